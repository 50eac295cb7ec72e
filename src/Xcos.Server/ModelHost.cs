using Microsoft.Extensions.Options;
using Xcos.ML.Gallery;
using Xcos.ML.Verification;

namespace Xcos.Server;

/// <summary>What a loaded server holds: the verifier, and the identifier over the gallery when one is configured.</summary>
/// <param name="Verifier">The pair verifier (thread-safe).</param>
/// <param name="Identifier">Encoder and gallery; null without a gallery.</param>
/// <param name="GalleryName">The gallery as configured (for messages); null without one.</param>
internal sealed record LoadedModels(IFacePairVerifier Verifier, FaceIdentifier? Identifier, string? GalleryName);

/// <summary>
/// Loads the models once, in the background (so /healthz answers while they load and /readyz says when they are in),
/// and disposes them after the host has drained its requests: the gallery is closed (flushed) last.
/// </summary>
internal sealed class ModelHost(IOptions<XcosServerOptions> options, XcosServerModels models, ILogger<ModelHost> log) : IDisposable
{
    private readonly Lazy<Task<LoadedModels>> _load = new(() => Start(options.Value, models, log));

    /// <summary>Starts loading (idempotent).</summary>
    public Task<LoadedModels> Loading => _load.Value;

    /// <summary>One gallery writer at a time (an enrolment's photos go in together; a removal waits for them).</summary>
    public SemaphoreSlim Writer { get; } = new(1, 1);

    /// <summary>True once the models are loaded.</summary>
    public bool IsReady => _load.IsValueCreated && _load.Value.IsCompletedSuccessfully;

    /// <summary>Why loading failed, or null.</summary>
    public string? Failure => _load.IsValueCreated && _load.Value.IsFaulted ? _load.Value.Exception!.GetBaseException().Message : null;

    // the requests that arrived during loading go on in parallel: with inline continuations they would run one after
    // another on the thread that finished loading, each through the whole model before the next reaches the queue
    private static Task<LoadedModels> Start(XcosServerOptions o, XcosServerModels models, ILogger log)
    {
        var done = new TaskCompletionSource<LoadedModels>(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = Task.Run(() =>
        {
            try { done.SetResult(Load(o, models, log)); }
#pragma warning disable CA1031 // every failure goes to the task, where /readyz, the requests and ModelLoader see it
            catch (Exception e) { done.SetException(e); }
#pragma warning restore CA1031
        });
        return done.Task;
    }

    private static LoadedModels Load(XcosServerOptions o, XcosServerModels models, ILogger log)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        var verifier = models.CreateVerifier?.Invoke(o) ?? new OnnxFacePairVerifier(new OnnxFacePairVerifierOptions
        {
            ModelsDir = o.ModelsDir, DescriptorPath = o.Descriptor, Precision = o.Precision, Threshold = o.Threshold,
            IntraOpThreads = o.IntraOpThreads, BatchSize = 2,
        });
        IFaceEncoder? encoder = null;
        IFaceGallery? gallery = null;
        try
        {
            FaceIdentifier? identifier = null;
            if (o.Gallery is { } g)
            {
                encoder = models.CreateEncoder?.Invoke(o) ?? new OnnxFaceEncoder(o.ModelsDir, o.Descriptor, o.IntraOpThreads);
                gallery = FaceGalleries.Open(g, encoder.Model, GalleryOpenMode.OpenOrCreate);
                identifier = new FaceIdentifier(encoder, gallery, g);
                ServerLog.GalleryOpened(log, g, gallery.FaceCount, gallery.Identities.Count);
            }
            ServerLog.ModelsLoaded(log, started.Elapsed.TotalSeconds);
            return new LoadedModels(verifier, identifier, o.Gallery);
        }
        catch
        {
            gallery?.Dispose();
            encoder?.Dispose();
            verifier.Dispose();
            throw;
        }
    }

    /// <summary>Closes the gallery (its last enrolments are already durable; the index is saved) and the models.</summary>
    public void Dispose()
    {
        Writer.Dispose();
        if (!_load.IsValueCreated || !_load.Value.IsCompletedSuccessfully) return;
        var m = _load.Value.Result;
        m.Identifier?.Gallery.Dispose();
        m.Identifier?.Encoder.Dispose();
        m.Verifier.Dispose();
    }
}
