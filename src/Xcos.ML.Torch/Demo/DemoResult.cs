namespace Xcos.ML.Torch.Demo;

/// <summary>Outcome of <see cref="DemoRunner.Run"/>.</summary>
/// <param name="OutputDirectory">The output folder.</param>
/// <param name="ReportPath">index.html of the evaluation report.</param>
/// <param name="ModelZipPath">The saved ML.NET pipeline.</param>
/// <param name="CheckpointPath">The checkpoint evaluated (the shipped one, a given one, or the one just trained).</param>
/// <param name="Trained">True when this run trained the checkpoint.</param>
/// <param name="TrainingSeconds">Training wall time of this run (0 when it did not train).</param>
/// <param name="Figures">Explanation figures written (panel and overlay per pair).</param>
/// <param name="Checkpoint">The checkpoint's record: its recipe, steps, data, and the scores recorded when it was made.
/// After training it is the record just written (with this run's scores).</param>
/// <param name="Recorded">Without training, the checkpoint's record as read; after training, the shipped record when it was
/// made with the same recipe, data and threads (what this run should have reproduced), else null.</param>
/// <param name="Xcos">xCos on the held-out pairs (k-fold protocol).</param>
/// <param name="Cosine">Plain cosine of the flattened grid embeddings.</param>
/// <param name="PixelCosine">Cosine of the raw normalised pixels (the baseline a model has to beat).</param>
/// <param name="MaxScoreDifference">Largest |xCos difference| from <paramref name="Recorded"/>'s per-pair scores (NaN without it).</param>
/// <param name="MlNet">ML.NET's EvaluateNonCalibrated of the fitted pipeline.</param>
/// <param name="ReloadedPairs">Pairs scored again with the reloaded .zip.</param>
/// <param name="ReloadMaxDifference">Largest |score difference| between the fitted and the reloaded pipeline (0 when identical).</param>
/// <param name="RealFaces">The real-face part.</param>
/// <param name="StageSeconds">Wall time per stage.</param>
/// <param name="TotalSeconds">Wall time of the run.</param>
public sealed record DemoResult(string OutputDirectory, string ReportPath, string ModelZipPath, string CheckpointPath, bool Trained, double TrainingSeconds,
    IReadOnlyList<string> Figures, DemoCheckpointRecord Checkpoint, DemoCheckpointRecord? Recorded,
    DemoScore Xcos, DemoScore Cosine, DemoScore PixelCosine, double MaxScoreDifference, DemoMlNetMetrics MlNet,
    int ReloadedPairs, double ReloadMaxDifference, DemoRealFaces RealFaces, IReadOnlyDictionary<DemoStage, double> StageSeconds, double TotalSeconds)
{
    /// <summary>Held-out pairs scored.</summary>
    public int Pairs => Checkpoint.XcosScores.Length;

    /// <summary>True when this run's xCos and cosine accuracy and AUC equal <see cref="Recorded"/>'s (false without a record).</summary>
    public bool MatchesRecord => Recorded is { } r
        && r.Xcos.Accuracy == Xcos.Accuracy && r.Xcos.Auc == Xcos.Auc && r.Cosine.Accuracy == Cosine.Accuracy && r.Cosine.Auc == Cosine.Auc;
}
