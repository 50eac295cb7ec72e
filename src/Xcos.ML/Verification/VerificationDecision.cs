namespace Xcos.ML.Verification;

/// <summary>What a verifier concluded about a pair.</summary>
public enum VerificationDecision
{
    /// <summary>The deciding score is above the threshold.</summary>
    Same,
    /// <summary>The deciding score is at or below the threshold, or a face could not be used.</summary>
    Different,
    /// <summary>No threshold was given, so there is a score but no decision.</summary>
    Undecided,
}
