using System.Diagnostics;

namespace Xcos.ML.Torch.Demo;

/// <summary>Runs a demo's stages one after another: cancellation before each, its wall time, its progress reports.</summary>
internal sealed class DemoStages(IProgress<DemoProgress>? progress, CancellationToken cancellationToken)
{
    private readonly Dictionary<DemoStage, double> _seconds = [];

    /// <summary>Wall time of each stage run so far.</summary>
    public IReadOnlyDictionary<DemoStage, double> Seconds => _seconds;

    /// <summary>The run's cancellation token.</summary>
    public CancellationToken Token => cancellationToken;

    /// <summary>Runs <paramref name="work"/> as <paramref name="stage"/>; it reports progress through its argument.</summary>
    public T Run<T>(DemoStage stage, Func<Action<int, int, string>, T> work)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var clock = Stopwatch.StartNew();
        var result = work((done, total, detail) => progress?.Report(new DemoProgress(stage, done, total, detail)));
        _seconds[stage] = clock.Elapsed.TotalSeconds;
        return result;
    }

    /// <summary>Forwards a ready-made report (training builds its own).</summary>
    public void Report(DemoProgress p) => progress?.Report(p);
}
