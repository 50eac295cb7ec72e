using System.CommandLine;
using Xcos.ML.Torch.Verification;
using Xcos.ML.Verification;

namespace Xcos.Cli;

/// <summary>
/// The verifier a command runs, with what it owns: an ONNX face-model verifier without --checkpoint, else the checkpoint's
/// model (and the detector for raw photos) behind a <see cref="CheckpointFacePairVerifier"/>.
/// </summary>
internal sealed class VerifierSession : IDisposable
{
    private readonly IDisposable?[] _owned;

    private VerifierSession(IFacePairVerifier verifier, params IDisposable?[] owned)
    {
        Verifier = verifier;
        _owned = owned;
    }

    public IFacePairVerifier Verifier { get; }

    /// <summary>Opens the verifier the options name; <paramref name="aligned"/>: inputs are aligned 112x112 faces.</summary>
    public static VerifierSession Open(ParseResult p, ModelArgs model, RealFaceArgs real, bool aligned, double? threshold, bool flip = false)
    {
        if (p.GetValue(model.Checkpoint) is null)
            return new VerifierSession(real.CreateVerifier(p, threshold, p.GetValue(model.Threads) ?? 0, aligned, flip));
        var detector = aligned ? null : real.CreateDetector(p);
        try
        {
            var (m, _) = model.Load(p);
            return new VerifierSession(new CheckpointFacePairVerifier(m, new CheckpointFacePairVerifierOptions { Threshold = threshold, Detector = detector, Flip = flip }), m, detector);
        }
        catch
        {
            detector?.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        Verifier.Dispose();
        foreach (var d in _owned) d?.Dispose();
    }
}
