namespace Xcos.Server;

/// <summary>The server's log lines (source-generated: no formatting cost when the level is off).</summary>
internal static partial class ServerLog
{
    [LoggerMessage(Level = LogLevel.Error, Message = "unhandled failure on {Path}")]
    public static partial void Unhandled(ILogger logger, Exception exception, string path);

    [LoggerMessage(Level = LogLevel.Information, Message = "gallery {Gallery}: {Faces} faces of {Identities} identities")]
    public static partial void GalleryOpened(ILogger logger, string gallery, int faces, int identities);

    [LoggerMessage(Level = LogLevel.Information, Message = "models loaded in {Seconds:F1} s")]
    public static partial void ModelsLoaded(ILogger logger, double seconds);

    [LoggerMessage(Level = LogLevel.Critical, Message = "{Message}")]
    public static partial void Fatal(ILogger logger, string message);

    [LoggerMessage(Level = LogLevel.Critical, Message = "cannot load the models: {Reason}")]
    public static partial void LoadFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "listening on {Addresses}")]
    public static partial void Listening(ILogger logger, ICollection<string> addresses);
}
