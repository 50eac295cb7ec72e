using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Xcos.ML.Figures;
using Xcos.ML.Metrics;

namespace Xcos.ML.Explain;

/// <summary>The page <see cref="EvaluationReport.Write"/> wrote, every file beside it, and the metrics it shows.</summary>
/// <param name="IndexPath">The page.</param>
/// <param name="Files">Every file written, index.html last.</param>
/// <param name="Xcos">Metrics of the xCos scores.</param>
/// <param name="Cosine">Metrics of the plain cosine.</param>
/// <param name="Threshold">xCos threshold used for the error lists (best accuracy over all pairs; "same" when score &gt; it).</param>
/// <param name="FalseAccepts">Pair indices shown as worst false accepts.</param>
/// <param name="FalseRejects">Pair indices shown as worst false rejects.</param>
public sealed record EvaluationReportResult(
    string IndexPath, IReadOnlyList<string> Files, VerificationReport Xcos, VerificationReport Cosine,
    double Threshold, IReadOnlyList<int> FalseAccepts, IReadOnlyList<int> FalseRejects);
