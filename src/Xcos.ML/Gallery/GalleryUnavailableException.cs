namespace Xcos.ML.Gallery;

/// <summary>
/// The store behind a gallery cannot be used right now (server unreachable, authentication refused, connection
/// dropped, a needed extension missing). The message is one line a person can act on and names no password.
/// </summary>
public sealed class GalleryUnavailableException : IOException
{
    /// <summary>A failure with its one-line message.</summary>
    public GalleryUnavailableException(string message) : base(message) { }

    /// <summary>A failure with its one-line message and the driver's exception.</summary>
    public GalleryUnavailableException(string message, Exception inner) : base(message, inner) { }

    /// <summary>A failure without a message of its own.</summary>
    public GalleryUnavailableException() { }

    /// <summary>True when the connection was lost during an operation (a rerun may finish it), not refused at the start.</summary>
    public bool ConnectionLost { get; init; }
}
