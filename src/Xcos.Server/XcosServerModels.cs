using Xcos.ML.Gallery;
using Xcos.ML.Verification;

namespace Xcos.Server;

/// <summary>
/// How the server gets its models. Null members build the ONNX face model of <see cref="XcosServerOptions"/>
/// (<see cref="OnnxFacePairVerifier"/>, <see cref="OnnxFaceEncoder"/>); the CLI passes a checkpoint's verifier and
/// encoder here, so this project never references TorchSharp.
/// </summary>
public sealed class XcosServerModels
{
    /// <summary>Builds the pair verifier (called once, in the background, at start).</summary>
    public Func<XcosServerOptions, IFacePairVerifier>? CreateVerifier { get; init; }

    /// <summary>Builds the gallery encoder (called once at start when a gallery is configured).</summary>
    public Func<XcosServerOptions, IFaceEncoder>? CreateEncoder { get; init; }
}
