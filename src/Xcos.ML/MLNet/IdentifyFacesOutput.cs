using Microsoft.ML.Data;

namespace Xcos.ML.MLNet;

/// <summary>Row written by the identification stage.</summary>
public sealed class IdentifyFacesOutput
{
    /// <summary>The best identity, or "" when the face is <see cref="Unknown"/> or the photo has no face (<see cref="TopIdentities"/> still lists the nearest).</summary>
    public string Identity { get; set; } = "";

    /// <summary>The model's cosine of the probe and the nearest identity's nearest face, also when <see cref="Unknown"/> (NaN without a face).</summary>
    public float IdentityScore { get; set; }

    /// <summary>Open-set decision: the best cosine is under the face model's threshold (true without a face).</summary>
    public bool Unknown { get; set; }

    /// <summary>The top identities by cosine, best first (up to <see cref="IdentifyFacesFactory.Top"/>).</summary>
    [VectorType]
    public string[] TopIdentities { get; set; } = [];

    /// <summary>Cosine of each of <see cref="TopIdentities"/>, in the same order.</summary>
    [VectorType]
    public float[] TopScores { get; set; } = [];

    /// <summary>"ok", or the probe's face status (no_face, ...).</summary>
    public string IdentifyStatus { get; set; } = "";
}
