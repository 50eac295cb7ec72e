using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using Microsoft.ML;

namespace Xcos.ML.MLNet;

/// <summary>
/// One loaded model served to many threads: each <see cref="Predict"/> borrows a <c>PredictionEngine</c> (not thread
/// safe itself) from a bag, or makes one, and puts it back. All engines share the model and its ONNX sessions.
/// </summary>
/// <remarks>
/// Engines are made with <c>PredictionEngineOptions.OwnsTransformer = false</c>. ML.NET's default is true, and then
/// an engine's <c>Dispose</c> disposes the model it was made from: <c>PredictionEngineBase.Dispose</c> →
/// <c>TransformerChain.Dispose</c> → <c>OnnxTransformer.Dispose</c> → <c>OnnxModel.Dispose</c>, which disposes the
/// <c>InferenceSession</c> every other engine of that model is still using (ML.NET 5.0.1). The pool disposes its
/// engines and then, if it owns it, the model, only once no prediction is running.
/// <c>Microsoft.Extensions.ML</c>'s <c>PredictionEnginePool</c> would do the same job but is not served by the
/// registry this project builds against.
/// </remarks>
public sealed class XcosPredictionPool<TSrc, TDst> : IDisposable where TSrc : class where TDst : class, new()
{
    private readonly MLContext _ml;
    private readonly bool _ownsModel;
    private readonly ConcurrentBag<PredictionEngine<TSrc, TDst>> _idle = new();
    private readonly ConcurrentBag<PredictionEngine<TSrc, TDst>> _all = new();
    private int _running;
    private int _disposed;

    /// <summary>Serves <paramref name="model"/>; with <paramref name="ownsModel"/> the pool disposes it on <see cref="Dispose"/>.</summary>
    public XcosPredictionPool(MLContext ml, ITransformer model, bool ownsModel = true)
    {
        ArgumentNullException.ThrowIfNull(ml);
        ArgumentNullException.ThrowIfNull(model);
        _ml = ml;
        Model = model;
        _ownsModel = ownsModel;
    }

    /// <summary>Loads a saved model (.zip), its networks checked by <see cref="XcosModelArchive.Verify"/>, and serves it; the pool owns the loaded model.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">A network keeps external data or was changed after saving (the message names the stage).</exception>
    [SuppressMessage("Design", "CA1000", Justification = "TSrc and TDst cannot be inferred from the arguments, so a generic method elsewhere would be called the same way.")]
    public static XcosPredictionPool<TSrc, TDst> Load(MLContext ml, string zipPath)
    {
        ArgumentNullException.ThrowIfNull(ml);
        if (!File.Exists(zipPath)) throw new FileNotFoundException($"model not found: {zipPath}", zipPath);
        return new XcosPredictionPool<TSrc, TDst>(ml, XcosModelArchive.Load(ml, zipPath, out _), ownsModel: true);
    }

    /// <summary>The model every engine scores with.</summary>
    public ITransformer Model { get; }

    /// <summary>Engines made so far: at most the number of predictions that ever ran at the same time.</summary>
    public int EngineCount => _all.Count;

    /// <summary>Scores one row; safe to call from any number of threads at once.</summary>
    /// <exception cref="ObjectDisposedException">The pool was disposed.</exception>
    public TDst Predict(TSrc example)
    {
        Interlocked.Increment(ref _running);
        try
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            if (!_idle.TryTake(out var engine))
            {
                engine = _ml.Model.CreatePredictionEngine<TSrc, TDst>(Model, new PredictionEngineOptions { OwnsTransformer = false });
                _all.Add(engine);
            }
            try { return engine.Predict(example); }
            finally { _idle.Add(engine); }
        }
        finally { Interlocked.Decrement(ref _running); }
    }

    /// <summary>Waits for running predictions to finish, then disposes the engines and, if owned, the model.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        var wait = new SpinWait();
        while (Volatile.Read(ref _running) != 0) wait.SpinOnce();
        foreach (var engine in _all) engine.Dispose();
        if (_ownsModel) (Model as IDisposable)?.Dispose();
    }
}
