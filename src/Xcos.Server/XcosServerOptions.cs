using Xcos.ML.FaceModels;
using Xcos.ML.Images;

namespace Xcos.Server;

/// <summary>
/// Settings of <c>xcos serve</c> (configuration section "Xcos", or set by the CLI): the model, the gallery, the API key
/// and the limits that protect the host. Every limit has a default that suits one machine serving on loopback.
/// </summary>
public sealed class XcosServerOptions
{
    /// <summary>Configuration section the options bind from ("Xcos:Gallery", "Xcos:QueueLimit", ...).</summary>
    public const string Section = "Xcos";

    /// <summary>Address the server listens on when none is given: loopback only.</summary>
    public const string DefaultUrls = "http://127.0.0.1:5080";

    /// <summary>Models folder; null uses XCOS_MODELS, else the user's data folder (as <c>xcos models fetch</c> does).</summary>
    public string? ModelsDir { get; set; }

    /// <summary>Face model descriptor .json; null is the shipped fr_feature.</summary>
    public string? Descriptor { get; set; }

    /// <summary>Float model or its int8 form.</summary>
    public OnnxPrecision Precision { get; set; }

    /// <summary>Cosine threshold; null takes the model's.</summary>
    public double? Threshold { get; set; }

    /// <summary>
    /// The gallery for /v1/identify, /v1/enroll and /v1/identities, as the user names it (a gallery file path, created
    /// on the first enrolment when missing); null: no gallery, and those endpoints answer 404 no_gallery.
    /// </summary>
    public string? Gallery { get; set; }

    /// <summary>File holding the API key (its first line); null: no key. Required to bind anywhere but loopback.</summary>
    public string? ApiKeyFile { get; set; }

    /// <summary>Largest upload of one image in bytes (413 upload_too_large beyond). Default 10 MB.</summary>
    public long MaxUploadBytes { get; set; } = 10L * 1024 * 1024;

    /// <summary>Largest decoded image, width x height (413 image_too_large beyond). Default 40 megapixels.</summary>
    public long MaxPixels { get; set; } = ImageLoadOptions.DefaultMaxPixels;

    /// <summary>Requests that run the model at once. Default: the processor count.</summary>
    public int Workers { get; set; } = Environment.ProcessorCount;

    /// <summary>Requests that may wait for a worker; past it the answer is 503 queue_full with Retry-After. Default 32.</summary>
    public int QueueLimit { get; set; } = 32;

    /// <summary>ONNX Runtime threads per model call. Default 1: the workers already use the cores.</summary>
    public int IntraOpThreads { get; set; } = 1;

    /// <summary>Seconds a request may take, queue wait included (504 timeout beyond). Default 60.</summary>
    public double RequestTimeoutSeconds { get; set; } = 60;

    /// <summary>Requests per second one client (API key or address) may make to /v1 (429 beyond); 0 turns the limit off. Default 50.</summary>
    public int RateLimitPerSecond { get; set; } = 50;

    /// <summary>Requests one client may make in a burst above its rate. Default 100.</summary>
    public int RateLimitBurst { get; set; } = 100;

    /// <summary>Checks the values; the message names the setting.</summary>
    /// <exception cref="ArgumentException">A value is out of range.</exception>
    public void Validate()
    {
        if (MaxUploadBytes < 1) throw new ArgumentException($"MaxUploadBytes must be positive, got {MaxUploadBytes}");
        if (MaxPixels < 1) throw new ArgumentException($"MaxPixels must be positive, got {MaxPixels}");
        if (Workers < 1) throw new ArgumentException($"Workers must be at least 1, got {Workers}");
        if (QueueLimit < 0) throw new ArgumentException($"QueueLimit must be 0 or more, got {QueueLimit}");
        if (IntraOpThreads < 0) throw new ArgumentException($"IntraOpThreads must be 0 (ONNX Runtime's choice) or more, got {IntraOpThreads}");
        if (!(RequestTimeoutSeconds > 0)) throw new ArgumentException($"RequestTimeoutSeconds must be positive, got {RequestTimeoutSeconds}");
        if (RateLimitPerSecond < 0 || RateLimitBurst < 1) throw new ArgumentException($"RateLimitPerSecond must be 0 (off) or more and RateLimitBurst at least 1, got {RateLimitPerSecond} and {RateLimitBurst}");
        if (Threshold is { } t && (!double.IsFinite(t) || t < -1 || t > 1)) throw new ArgumentException($"Threshold must be a cosine in -1..1, got {t}");
    }
}
