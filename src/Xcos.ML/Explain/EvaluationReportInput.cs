using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Xcos.ML.Figures;
using Xcos.ML.Metrics;

namespace Xcos.ML.Explain;

/// <summary>What <see cref="EvaluationReport.Write"/> reports on.</summary>
public sealed class EvaluationReportInput
{
    /// <summary>xCos score of every pair.</summary>
    public required double[] XcosScores { get; init; }

    /// <summary>Plain cosine of every pair (same order).</summary>
    public required double[] CosineScores { get; init; }

    /// <summary>Label of every pair (true = same identity).</summary>
    public required bool[] Same { get; init; }

    /// <summary>A short name of every pair for captions (for example "a.jpg | b.jpg"); null: "pair N".</summary>
    public IReadOnlyList<string>? PairNames { get; init; }

    /// <summary>
    /// Builds the explanation figure input of pair <c>index</c> at the report's xCos <c>threshold</c> (faces, cosine
    /// and attention maps, optionally a Grad-CAM as the extra map); called only for the pairs shown. Null: no figures.
    /// </summary>
    public Func<int, double, ExplanationInput>? Explain { get; init; }

    /// <summary>Page title. Default "xCos evaluation".</summary>
    public string? Title { get; init; }

    /// <summary>Free text under the title (model, data set, ...).</summary>
    public string? Description { get; init; }

    /// <summary>Accuracy under occlusion, shown as a plot and a table; null leaves the section out.</summary>
    public OcclusionResult? Occlusion { get; init; }

    /// <summary>Deletion/insertion AUCs of the explanation methods; null leaves the section out.</summary>
    public FaithfulnessSummary? Faithfulness { get; init; }
}
