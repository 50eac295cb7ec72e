using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Google.Protobuf;
using Xcos.ML.Explain;
using Xcos.ML.FaceModels;
using Xcos.ML.Heads;
using Xcos.ML.Metrics;
using Xcos.ML.Onnx;
using Xcos.ML.Torch.Export;
using Xcos.ML.Torch.Networks;
using Xcos.ML.Torch.Training;

namespace Xcos.ML.Torch.FaceModels;

/// <summary>What <c>record.json</c> beside a fine-tuned face model says: data, split, recipe, figures.</summary>
public sealed class XcosFaceModelRecord
{
    /// <summary>One scored pair set: the original model's cosine and the learned xCos.</summary>
    public sealed record Row(string Name, int Pairs, double CosineAuc, double XcosAuc, double CosineAccuracy, double XcosAccuracy, double CosineTarAtFar1e3, double XcosTarAtFar1e3)
    {
        /// <summary>The row of one pair set: the original cosine's report beside the shipped score's.</summary>
        public static Row Of(string name, int pairs, VerificationReport cosine, VerificationReport xcos)
        {
            ArgumentNullException.ThrowIfNull(cosine);
            ArgumentNullException.ThrowIfNull(xcos);
            return new(name, pairs, cosine.Auc, xcos.Auc, cosine.AccuracyMean, xcos.AccuracyMean, cosine.TarAtFar1e3, xcos.TarAtFar1e3);
        }
    }

    /// <summary>One candidate share of the original cosine and the blend's AUC per occluder (clean first).</summary>
    public sealed record CosineWeightRow(double Weight, double[] Auc);

    /// <summary>Layout version of this record.</summary>
    public int FormatVersion { get; set; } = 1;
    /// <summary>Training folder (aligned crops, one subfolder per person).</summary>
    public string Data { get; set; } = "";
    /// <summary>People the model was fitted on.</summary>
    public string[] FitPeople { get; set; } = [];
    /// <summary>Faces of the fit people.</summary>
    public int FitFaces { get; set; }
    /// <summary>People that chose the settings (best epoch, xCos threshold).</summary>
    public string[] SettingsPeople { get; set; } = [];
    /// <summary>Pairs of the settings people per occluder.</summary>
    public int SettingsPairs { get; set; }
    /// <summary>Photos of the people the figures are reported on (aligned by the project's detector), or null.</summary>
    public string? Report { get; set; }
    /// <summary>Faces found in <see cref="Report"/>.</summary>
    public int ReportFaces { get; set; }
    /// <summary>Report pairs per occluder.</summary>
    public int ReportPairs { get; set; }
    /// <summary>Seed.</summary>
    public int Seed { get; set; }
    /// <summary>Epochs completed.</summary>
    public int Epochs { get; set; }
    /// <summary>Training steps.</summary>
    public long Steps { get; set; }
    /// <summary>Whether the run was stopped (Ctrl-C) before its last epoch.</summary>
    public bool Cancelled { get; set; }
    /// <summary>Weights file of the run the model was made from (best.pth or last.pth).</summary>
    public string WeightsFrom { get; set; } = "";
    /// <summary>First fine-tuned block.</summary>
    public string FineTuneFrom { get; set; } = "";
    /// <summary>How learned xCos is formed (Anchored or PatchCosine).</summary>
    public string HeadForm { get; set; } = "";
    /// <summary>Whether the xCos terms scored every first-half x second-half pair of a batch.</summary>
    public bool AllPairs { get; set; }
    /// <summary>The scale the attention's last batch norm started at.</summary>
    public double AttentionStartScale { get; set; }
    /// <summary>Attention softmax temperature.</summary>
    public double Temperature { get; set; }
    /// <summary>Weight of the ranking term.</summary>
    public double RankWeight { get; set; }
    /// <summary>The optimisers, in words.</summary>
    public string Optimizers { get; set; } = "";
    /// <summary>Distillation weight.</summary>
    public double DistillationWeight { get; set; }
    /// <summary>xCos MSE weight.</summary>
    public double XcosWeight { get; set; }
    /// <summary>Verification weight.</summary>
    public double VerificationWeight { get; set; }
    /// <summary>Pairs per step.</summary>
    public int BatchPairs { get; set; }
    /// <summary>Pairs per epoch.</summary>
    public int PairsPerEpoch { get; set; }
    /// <summary>Share of clean training images.</summary>
    public double CleanShare { get; set; }
    /// <summary>Wall time of the training call.</summary>
    public double Seconds { get; set; }
    /// <summary>Mean loss of each epoch.</summary>
    public double[] EpochLosses { get; set; } = [];
    /// <summary>Settings people, per occluder.</summary>
    public Row[] Settings { get; set; } = [];
    /// <summary>Report people, per occluder (held out of fit and settings).</summary>
    public Row[]? Held { get; set; }
    /// <summary>The original cosine's share in the shipped score (the head's <c>cosine</c> input), chosen on the settings people.</summary>
    public double CosineWeight { get; set; }
    /// <summary>How <see cref="CosineWeight"/> was chosen.</summary>
    public string CosineWeightSource { get; set; } = "";
    /// <summary>The settings people's AUC of the blend at every candidate share (occluders in the order clean, mask, sunglasses, block).</summary>
    public CosineWeightRow[] CosineWeightSweep { get; set; } = [];
    /// <summary>
    /// The cosine's share per pair from the branches' agreement (<see cref="Xcos.ML.Heads.CosineGate"/>'s text form;
    /// its occluded share is <see cref="CosineWeight"/>), or null for a fixed share.
    /// </summary>
    public string? CosineGate { get; set; }
    /// <summary>How <see cref="CosineGate"/>'s agreements were chosen.</summary>
    public string? CosineGateSource { get; set; }
    /// <summary>SHA-256 of the base model.</summary>
    public string BaseSha256 { get; set; } = "";
    /// <summary>SHA-256 of the assembled backbone.</summary>
    public string OnnxSha256 { get; set; } = "";
    /// <summary>SHA-256 of the tail file.</summary>
    public string TailSha256 { get; set; } = "";
    /// <summary>SHA-256 of learned_head.onnx.</summary>
    public string HeadSha256 { get; set; } = "";

    internal static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };
}

/// <summary>
/// Writes a fine-tuned two-branch face model in the layout of <c>data/fr_feature/</c>: <c>descriptor.json</c>
/// (<c>xcos_variant</c> learned, <c>decides</c> xcos, the threshold chosen on the settings people; <c>base_onnx_file</c> and
/// <c>tail_file</c> so the backbone is assembled from the fetched base model, <see cref="FineTunedTail"/>),
/// <c>learned_head.onnx</c>, <c>fine_tuned_tail.bin</c> (only trained-minus-base values) and <c>record.json</c>.
/// The assembled backbone is written next to them too (not to be committed: it holds the base model's weights).
/// </summary>
public static class XcosFaceModelPackage
{
    /// <summary>The face model's name and folder.</summary>
    public const string Name = "fr_feature_xcos";

    /// <summary>File name of the tail.</summary>
    public const string TailFileName = "fine_tuned_tail.bin";

    /// <summary>File name of the record.</summary>
    public const string RecordFileName = "record.json";

    /// <summary>
    /// The xCos threshold of the settings people: the best 10-fold-protocol threshold (middle of the best run on a
    /// 0.0005 grid) over their pairs of every occluder pooled.
    /// </summary>
    public static (double Threshold, double Accuracy) ChooseThreshold(IReadOnlyDictionary<FaceOccluder, float[]> scores, bool[] same)
    {
        ArgumentNullException.ThrowIfNull(scores);
        var s = scores.Values.SelectMany(v => v).ToArray();
        var y = scores.Values.SelectMany(_ => same).ToArray();
        var grid = Enumerable.Range(-400, 1801).Select(i => i * 0.0005).ToArray();
        var acc = grid.Select(t => VerificationMetrics.BestThreshold(s, y, [t]).Accuracy).ToArray();
        double best = acc.Max();
        int first = Array.IndexOf(acc, best), last = first;
        while (last + 1 < acc.Length && acc[last + 1] == best) last++;
        return (Math.Round((grid[first] + grid[last]) / 2, 4), best);
    }

    /// <summary>
    /// The original cosine's share w in the shipped score <c>(1 - w) xCos + w cosine</c>, from 0, 0.05, ..., 0.95:
    /// among the w whose clean AUC stays within <paramref name="cleanTolerance"/> of the cosine's own, the one with the
    /// best mean AUC over the occluded conditions (the smallest on a tie); the rule is the occlusion model's brief (the
    /// cosine's clean accuracy kept, the most gained under occluders). Also returns every candidate's AUCs.
    /// </summary>
    /// <param name="xcos">The head's xCos per condition.</param>
    /// <param name="cosine">The original cosine per condition.</param>
    /// <param name="same">Same-person flags of the pairs.</param>
    /// <param name="cleanTolerance">How far below the cosine's clean AUC a candidate may fall.</param>
    /// <param name="gate">When given, w is the occluded share of a <see cref="Xcos.ML.Heads.CosineGate"/> with these agreements and a clean share of 1 (<see cref="GatedBlend"/>).</param>
    public static (double Weight, IReadOnlyList<XcosFaceModelRecord.CosineWeightRow> Sweep) ChooseCosineWeight(IReadOnlyDictionary<FaceOccluder, float[]> xcos,
        IReadOnlyDictionary<FaceOccluder, float[]> cosine, bool[] same, double cleanTolerance = 0.001,
        (IReadOnlyDictionary<FaceOccluder, (float[] First, float[] Second)> Agreements, double Low, double High)? gate = null)
    {
        ArgumentNullException.ThrowIfNull(xcos);
        ArgumentNullException.ThrowIfNull(cosine);
        var kinds = FaceOccluders.All.Where(xcos.ContainsKey).ToArray();
        if (kinds.FirstOrDefault() != FaceOccluder.None || kinds.Length < 2) throw new ArgumentException("the settings scores need the clean condition and at least one occluder");
        double cleanCosine = VerificationMetrics.Evaluate(cosine[FaceOccluder.None], same).Auc;
        var sweep = new List<XcosFaceModelRecord.CosineWeightRow>();
        (double W, double Gain) best = (double.NaN, double.NegativeInfinity);
        for (int k = 0; k < 20; k++)
        {
            double w = k * 0.05;
            var auc = kinds.Select(o => VerificationMetrics.Evaluate(gate is { } g
                ? GatedBlend(xcos[o], cosine[o], g.Agreements[o], new Xcos.ML.Heads.CosineGate(w, 1, g.Low, g.High))
                : Blend(xcos[o], cosine[o], w), same).Auc).ToArray();
            sweep.Add(new XcosFaceModelRecord.CosineWeightRow(Math.Round(w, 2), auc));
            double occluded = auc.Skip(1).Average();
            if (auc[0] >= cleanCosine - cleanTolerance && occluded > best.Gain + 1e-12) best = (Math.Round(w, 2), occluded);
        }
        // no share keeps the clean AUC: the most cosine there is
        return (double.IsNaN(best.W) ? 0.95 : best.W, sweep);
    }

    /// <summary>
    /// The agreements of <see cref="CosineGate"/> from the settings people: Low is the median agreement of the
    /// occluded faces (every occluder pooled), High the 5th percentile of the clean faces', so that nearly every clean
    /// face gets the clean share and half the occluded faces the occluded share. Null when the two overlap that much
    /// (Low ≥ High): no agreement tells them apart and a fixed share is kept.
    /// </summary>
    /// <param name="agreements">Per condition, both faces' agreement of every pair (face 1 clean, face 2 under the condition).</param>
    public static (double Low, double High)? ChooseGateAgreements(IReadOnlyDictionary<FaceOccluder, (float[] First, float[] Second)> agreements)
    {
        ArgumentNullException.ThrowIfNull(agreements);
        if (!agreements.TryGetValue(FaceOccluder.None, out var clean) || agreements.Count < 2) throw new ArgumentException("the agreements need the clean condition and at least one occluder");
        var cleanFaces = clean.First.Concat(clean.Second).Select(v => (double)v).Order().ToArray();
        var occluded = agreements.Where(kv => kv.Key != FaceOccluder.None).SelectMany(kv => kv.Value.Second).Select(v => (double)v).Order().ToArray();
        double low = Percentile(occluded, 0.5), high = Percentile(cleanFaces, 0.05);
        return low < high ? (Math.Round(low, 4), Math.Round(high, 4)) : null;
    }

    // Linear interpolation between the order statistics (numpy's default).
    private static double Percentile(double[] sorted, double q)
    {
        double pos = q * (sorted.Length - 1);
        int i = (int)Math.Floor(pos);
        return i + 1 < sorted.Length ? sorted[i] + (pos - i) * (sorted[i + 1] - sorted[i]) : sorted[i];
    }

    /// <summary>
    /// The shipped score of each pair under a gate: <c>(1 - w) xCos + w cosine</c> with w from the lower of the two
    /// faces' agreements (<see cref="Xcos.ML.Heads.CosineGate.WeightAt"/>), as the gated head computes it.
    /// </summary>
    public static float[] GatedBlend(float[] xcos, float[] cosine, (float[] First, float[] Second) agreements, Xcos.ML.Heads.CosineGate gate)
    {
        ArgumentNullException.ThrowIfNull(xcos);
        ArgumentNullException.ThrowIfNull(cosine);
        ArgumentNullException.ThrowIfNull(gate);
        if (xcos.Length != cosine.Length || agreements.First.Length != xcos.Length || agreements.Second.Length != xcos.Length)
            throw new ArgumentException($"{xcos.Length} xCos scores, {cosine.Length} cosines and {agreements.First.Length}/{agreements.Second.Length} agreements");
        return [.. xcos.Select((x, i) =>
        {
            double w = gate.WeightAt(Math.Min(agreements.First[i], agreements.Second[i]));
            return (float)((1 - w) * x + w * cosine[i]);
        })];
    }

    /// <summary>The shipped score of each pair: <c>(1 - w) xCos + w cosine</c>.</summary>
    public static float[] Blend(float[] xcos, float[] cosine, double w)
    {
        ArgumentNullException.ThrowIfNull(xcos);
        ArgumentNullException.ThrowIfNull(cosine);
        if (xcos.Length != cosine.Length) throw new ArgumentException($"{xcos.Length} xCos scores and {cosine.Length} cosines");
        return [.. xcos.Select((x, i) => (float)((1 - w) * x + w * cosine[i]))];
    }

    /// <summary>Writes the folder.</summary>
    /// <param name="net">The trained branch (weights loaded).</param>
    /// <param name="baseDescriptor">The base model's descriptor (fr_feature).</param>
    /// <param name="baseOnnx">The base model file.</param>
    /// <param name="dir">Target folder.</param>
    /// <param name="threshold">xCos threshold and its accuracy on the settings people.</param>
    /// <param name="record">The record (hashes are filled in).</param>
    public static FaceModelDescriptor Write(XcosTailNet net, FaceModelDescriptor baseDescriptor, string baseOnnx, string dir, (double Threshold, double Accuracy) threshold, XcosFaceModelRecord record)
    {
        ArgumentNullException.ThrowIfNull(net);
        ArgumentNullException.ThrowIfNull(baseDescriptor);
        ArgumentNullException.ThrowIfNull(record);
        Directory.CreateDirectory(dir);
        var baseModel = OnnxModelFile.Load(baseOnnx);
        string baseMap = baseDescriptor.FeatureMapName ?? throw new InvalidDataException($"descriptor '{baseDescriptor.Name}' names no feature_map_name");
        var (folded, firstNode) = OnnxMobileFaceNetImport.Fold(net.Backbone, baseModel, net.From);
        var endNode = baseModel.Graph.Node.Select((n, i) => (n, i)).First(x => x.n.Output.Contains(baseMap)).i;
        var names = new List<string>();
        for (int i = firstNode; i <= endNode; i++)
            foreach (var input in baseModel.Graph.Node[i].Input)
                if (folded.ContainsKey(input) && !names.Contains(input)) names.Add(input);
        var deltas = names.Select(n =>
        {
            var (baseValues, shape) = baseModel.ReadInitializer(n);
            var v = folded[n].Values;
            return (n, v.Select((x, k) => x - baseValues[k]).ToArray(), shape);
        }).ToList();
        string baseSha = FineTunedTail.Sha256(baseOnnx);
        var header = new FineTunedTailHeader
        {
            BaseOnnx = Path.GetFileName(baseOnnx), BaseSha256 = baseSha, FirstNode = firstNode, BaseFeatureMap = baseMap,
            FeatureMap = FineTunedTail.Prefix + baseMap,
            Description = $"trained minus base values (float32) of the {names.Count} initializers of nodes {firstNode}..{endNode} ({net.From} on) of {Path.GetFileName(baseOnnx)}, batch norms folded",
        };
        var tailPath = Path.Combine(dir, TailFileName);
        FineTunedTail.Write(tailPath, header, deltas);
        var assembled = FineTunedTail.Assemble(baseOnnx, tailPath);
        var onnxPath = Path.Combine(dir, Name + ".onnx");
        File.WriteAllBytes(onnxPath, assembled.ToByteArray());

        var headPath = Path.Combine(dir, LearnedHead.DefaultFileName);
        var training = string.Create(CultureInfo.InvariantCulture,
            $"two-branch occlusion fine-tune of {baseDescriptor.Name} from {net.From}: {record.FitPeople.Length} people of {Path.GetFileName(record.Data.TrimEnd('/'))} ({record.FitFaces} faces), {record.Epochs} epochs, {record.Steps} steps, seed {record.Seed}");
        var headWeights = net.Head.XcosStateDict();
        if (net.Form == XcosHeadForm.Anchored) foreach (var (k, v) in net.AnchorStateDict()) headWeights[k] = v;
        (double, string)? blend = record.CosineGate is null && record.CosineWeight > 0 ? (record.CosineWeight, record.CosineWeightSource) : null;
        (Xcos.ML.Heads.CosineGate, string)? gate = record.CosineGate is { } g ? (Xcos.ML.Heads.CosineGate.Parse(g), $"{record.CosineGateSource}; occluded share: {record.CosineWeightSource}") : null;
        var head = LearnedHeadExport.Build(TorchOnnxExport.ToWeights(headWeights), Name, header.FeatureMap, net.Head.Attention.Temperature, training, blend, gate);
        File.WriteAllBytes(headPath, head.ToByteArray());

        var d = FaceModelDescriptor.FromJson(baseDescriptor.ToJson());
        d.Name = Name;
        d.OnnxFile = Name + ".onnx";
        d.FeatureMapName = header.FeatureMap;
        d.XcosVariant = "learned";
        d.Decides = "xcos";
        d.XcosThreshold = threshold.Threshold;
        d.XcosThresholdSource = string.Create(CultureInfo.InvariantCulture,
            $"best accuracy of the learned xCos{(record.CosineGate is not null ? $" (its share of the original cosine included, gated {record.CosineGate})" : record.CosineWeight > 0 ? $" (its {record.CosineWeight:G3} share of the original cosine included)" : "")} ({threshold.Accuracy:P2}) on the {record.SettingsPairs} pairs x {FaceOccluders.All.Count} occluders (clean, mask, sunglasses, block; face 2 occluded) of the settings people ({string.Join(", ", record.SettingsPeople)}), middle of the best run; record.json");
        d.XcosMatchCosine = false;
        d.CalibrationFile = null;
        d.XcosCalibrationSource = null;
        d.BaseOnnxFile = Path.GetFileName(baseOnnx);
        d.TailFile = TailFileName;
        d.OnnxSha256 = FineTunedTail.Sha256(onnxPath);
        d.Source = $"{baseDescriptor.Source}; its tail from {net.From} on fine-tuned with occluders and the learned xCos head (xcos train --mode occlusion); assembled from {d.BaseOnnxFile} (SHA-256 {baseSha}) and {TailFileName} at `xcos models fetch`";
        d.Validate(Path.Combine(dir, "descriptor.json"));
        d.Save(Path.Combine(dir, "descriptor.json"));

        record.BaseSha256 = baseSha;
        record.OnnxSha256 = d.OnnxSha256;
        record.TailSha256 = FineTunedTail.Sha256(tailPath);
        record.HeadSha256 = FineTunedTail.Sha256(headPath);
        File.WriteAllText(Path.Combine(dir, RecordFileName), JsonSerializer.Serialize(record, XcosFaceModelRecord.Json) + "\n");
        return d;
    }
}
