using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Xcos.ML.Figures;
using Xcos.ML.Metrics;

namespace Xcos.ML.Explain;

/// <summary>What <see cref="EvaluationReport.Write"/> puts on the page: how many worst cases, the protocol, figure style and histogram bins.</summary>
public sealed class EvaluationReportOptions
{
    /// <summary>Worst false accepts and worst false rejects shown (each). Default 4.</summary>
    public int WorstCount { get; set; } = 4;

    /// <summary>Verification protocol of the metrics table.</summary>
    public VerificationOptions Verification { get; set; } = new();

    /// <summary>Layout of the explanation figures.</summary>
    public ExplanationFigureOptions Figure { get; set; } = new() { FaceScale = 2, FontSize = 14 };

    /// <summary>Histogram bins. Default 40.</summary>
    public int Bins { get; set; } = 40;
}
