using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xcos.ML.MLNet;

/// <summary>The rows both consumer programs score, and the one table format they print.</summary>
internal static class ConsumerPairs
{
    // The scored columns both programs print, in this order: the one place to adapt when the pipeline's columns change.
    public static readonly string[] FloatColumns = ["Score", "Xcos", "Cosine", "Probability"];
    public static readonly string[] BoolColumns = ["PredictedLabel"];
    public static readonly string[] TextColumns = ["FaceStatus1", "FaceStatus2", "Status"];

    /// <summary>The four xcos_tiny fixture pairs (already aligned, so the template is their landmarks); pairs 0 and 1 are the same face.</summary>
    public static FacePairInput[] Rows(string fixtureFolder) => Enumerable.Range(0, 4).Select(p => new FacePairInput
    {
        ImagePath1 = Path.Combine(fixtureFolder, $"pair{p}_image1.png"),
        ImagePath2 = Path.Combine(fixtureFolder, $"pair{p}_image2.png"),
        Landmarks1 = FacePairInput.AlignedLandmarks(),
        Landmarks2 = FacePairInput.AlignedLandmarks(),
        Label = p < 2,
    }).ToArray();

    /// <summary>A tab-separated table of the scored columns, floats in round-trip form so equal text means equal values.</summary>
    public static void Print(IDataView scored, TextWriter output)
    {
        var columns = new List<string[]>();
        foreach (var name in FloatColumns)
            columns.Add(scored.GetColumn<float>(name).Select(v => v.ToString("R", CultureInfo.InvariantCulture)).ToArray());
        foreach (var name in BoolColumns)
            columns.Add(scored.GetColumn<bool>(name).Select(v => v ? "true" : "false").ToArray());
        foreach (var name in TextColumns)
            columns.Add(scored.GetColumn<string>(name).ToArray());
        output.WriteLine(string.Join('\t', FloatColumns.Concat(BoolColumns).Concat(TextColumns)));
        for (int row = 0; row < columns[0].Length; row++)
            output.WriteLine(string.Join('\t', columns.Select(c => c[row])));
    }
}
