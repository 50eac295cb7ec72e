using System.Globalization;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xcos.ML.MLNet;

// Usage: Xcos.ML.DeployCheck <model.zip> <pairs.tsv>
// pairs.tsv: header "ImagePath1<TAB>ImagePath2<TAB>Landmarks1<TAB>Landmarks2", landmarks as 10 comma-separated numbers;
// or header "ImagePath1<TAB>ImagePath2" for a raw-photo pipeline (a face model's, which detects the faces itself).
// Prints {"rows":[{score, xcos, cosine, probability, predictedLabel, faceStatus1, faceStatus2, status}], "torchSharpLoaded": bool} on stdout.
//
// Usage: Xcos.ML.DeployCheck --each <rows.idv> <folder> <seconds>
// Loads every *.zip of <folder> in name order, in this one process, with XcosModelArchive.Load, and scores the rows (ML.NET's
// binary data view file) with each. Before each model prints "start <name>"; after it, one JSON line: {"model": name,
// "scores": {column: [values]}} (every scalar or vector column of floats or booleans, round-trip text) or {"model": name,
// "phase": "load" or "score", "error": type, "message": text, "causes": ["type: text" of each inner exception]}. Starts no model after <seconds>. The .zip fuzz test runs it so that a model that kills
// or hangs the process is seen as such, and named by the last "start" line.
if (args.Length == 4 && args[0] == "--each") return EachModel.Run(args[1], args[2], double.Parse(args[3], CultureInfo.InvariantCulture));
if (args.Length != 2)
{
    Console.Error.WriteLine("usage: Xcos.ML.DeployCheck <model.zip> <pairs.tsv> | --each <rows.idv> <folder> <seconds>");
    return 2;
}
var ml = new MLContext(seed: 1);
ml.ComponentCatalog.RegisterAssembly(typeof(XcosPipeline).Assembly);
var model = ml.Model.Load(args[0], out _);
bool photos = File.ReadLines(args[1]).FirstOrDefault() == "ImagePath1\tImagePath2";
var scored = photos
    ? model.Transform(ml.Data.LoadFromEnumerable(File.ReadAllLines(args[1]).Skip(1).Where(l => l.Length > 0).Select(l => l.Split('\t'))
        .Select(f => new PhotoInput { ImagePath1 = f[0], ImagePath2 = f[1] })))
    : model.Transform(ml.Data.LoadFromEnumerable(PairTsv.Read(args[1])));
var score = scored.GetColumn<float>("Score").ToArray();
var xcos = scored.GetColumn<float>("Xcos").ToArray();
var cosine = scored.GetColumn<float>("Cosine").ToArray();
var probability = scored.GetColumn<float>("Probability").ToArray();
var predicted = scored.GetColumn<bool>("PredictedLabel").ToArray();
var status1 = scored.GetColumn<string>("FaceStatus1").ToArray();
var status2 = scored.GetColumn<string>("FaceStatus2").ToArray();
var status = scored.GetColumn<string>("Status").ToArray();
var result = new
{
    rows = score.Select((s, i) => new
    {
        // Text with round-trip precision, so the caller compares the exact floats.
        score = s.ToString("R", CultureInfo.InvariantCulture),
        xcos = xcos[i].ToString("R", CultureInfo.InvariantCulture),
        cosine = cosine[i].ToString("R", CultureInfo.InvariantCulture),
        probability = probability[i].ToString("R", CultureInfo.InvariantCulture),
        predictedLabel = predicted[i],
        faceStatus1 = status1[i],
        faceStatus2 = status2[i],
        status = status[i],
    }).ToArray(),
    torchSharpLoaded = AppDomain.CurrentDomain.GetAssemblies().Any(a => a.GetName().Name?.StartsWith("TorchSharp", StringComparison.Ordinal) == true),
};
Console.WriteLine(JsonSerializer.Serialize(result));
return 0;

/// <summary>One pair of photos.</summary>
internal sealed class PhotoInput
{
    public string ImagePath1 { get; set; } = "";
    public string ImagePath2 { get; set; } = "";
}

/// <summary>One pair of the TSV.</summary>
internal sealed class PairInput
{
    public string ImagePath1 { get; set; } = "";
    public string ImagePath2 { get; set; } = "";
    [VectorType(10)] public float[] Landmarks1 { get; set; } = [];
    [VectorType(10)] public float[] Landmarks2 { get; set; } = [];
}

internal static class PairTsv
{
    public static List<PairInput> Read(string path)
    {
        var lines = File.ReadAllLines(path);
        const string header = "ImagePath1\tImagePath2\tLandmarks1\tLandmarks2";
        if (lines.Length == 0 || lines[0] != header)
            throw new InvalidDataException($"{path}: the first line must be the header '{header.Replace("\t", "<TAB>")}'");
        var rows = new List<PairInput>();
        for (int i = 1; i < lines.Length; i++)
        {
            if (lines[i].Length == 0) continue;
            var f = lines[i].Split('\t');
            if (f.Length != 4) throw new InvalidDataException($"{path} line {i + 1}: {f.Length} fields; expected 4");
            rows.Add(new PairInput { ImagePath1 = f[0], ImagePath2 = f[1], Landmarks1 = Floats(f[2], path, i + 1), Landmarks2 = Floats(f[3], path, i + 1) });
        }
        return rows;
    }

    private static float[] Floats(string text, string path, int line)
    {
        var parts = text.Split(',');
        if (parts.Length != 10) throw new InvalidDataException($"{path} line {line}: {parts.Length} landmark values; expected 10");
        return parts.Select(p => float.TryParse(p, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v
            : throw new InvalidDataException($"{path} line {line}: '{p}' is not a number")).ToArray();
    }
}

internal static class EachModel
{
    public static int Run(string rows, string folder, double seconds)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var ml = new MLContext(seed: 1);
        ml.ComponentCatalog.RegisterAssembly(typeof(XcosPipeline).Assembly);
        var data = ml.Data.LoadFromBinary(rows);
        foreach (var zip in Directory.GetFiles(folder, "*.zip").Order(StringComparer.Ordinal))
        {
            if (clock.Elapsed.TotalSeconds > seconds) break;
            var name = Path.GetFileName(zip);
            Console.WriteLine($"start {name}");
            object line;
            ITransformer? model = null;
            try
            {
                model = XcosModelArchive.Load(ml, zip, out _);
                line = new { model = name, scores = Scores(model.Transform(data)) };
            }
            catch (Exception e)
            {
                var causes = new List<string>();
                for (var x = e.InnerException; x is not null; x = x.InnerException) causes.Add($"{x.GetType().FullName}: {x.Message.ReplaceLineEndings(" ")}");
                line = new { model = name, phase = model is null ? "load" : "score", error = e.GetType().FullName, message = e.Message.ReplaceLineEndings(" "), causes };
            }
            finally { (model as IDisposable)?.Dispose(); }
            Console.WriteLine(JsonSerializer.Serialize(line));
        }
        return 0;
    }

    private static SortedDictionary<string, string[]> Scores(IDataView scored)
    {
        var columns = new SortedDictionary<string, string[]>(StringComparer.Ordinal);
        foreach (var c in scored.Schema.Where(c => !c.IsHidden))
        {
            if (c.Type == NumberDataViewType.Single) columns[c.Name] = scored.GetColumn<float>(c.Name).Select(Text).ToArray();
            else if (c.Type == BooleanDataViewType.Instance) columns[c.Name] = scored.GetColumn<bool>(c.Name).Select(b => b ? "true" : "false").ToArray();
            else if (c.Type is VectorDataViewType { ItemType: NumberDataViewType t } && t == NumberDataViewType.Single)
                columns[c.Name] = scored.GetColumn<VBuffer<float>>(c.Name).Select(v => string.Join(" ", v.DenseValues().Select(Text))).ToArray();
        }
        return columns;
    }

    private static string Text(float v) => v.ToString("R", CultureInfo.InvariantCulture);
}
