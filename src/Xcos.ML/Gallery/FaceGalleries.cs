using System.Collections.Concurrent;

namespace Xcos.ML.Gallery;

/// <summary>
/// The one place that turns the gallery a user names into an <see cref="IFaceGallery"/>: a file path opens a
/// <see cref="FaceGallery"/>; a URI (<c>postgresql://USER@HOST:PORT/DB?table=NAME</c>) opens the gallery of the
/// provider registered for its scheme. The CLI, the ML.NET identification stage and the service all open galleries
/// here, so a name that works in one works in all.
/// </summary>
/// <remarks>
/// The core keeps no database dependency: <c>postgresql://</c> is served by the Xcos.ML.PgVector package, which
/// registers itself when its assembly is present next to the application (or call its <c>Register()</c>).
/// </remarks>
public static class FaceGalleries
{
    /// <summary>Environment variable naming the gallery when none is given (a file path or a URI).</summary>
    public const string EnvironmentVariable = "XCOS_GALLERY";

    private static readonly ConcurrentDictionary<string, IFaceGalleryProvider> Providers = new(StringComparer.OrdinalIgnoreCase);

    // Schemes served by a package of this project, found by assembly name when nobody registered them.
    private static readonly Dictionary<string, string> KnownProviders = new(StringComparer.OrdinalIgnoreCase)
    {
        ["postgresql"] = "Xcos.ML.PgVector.PgVectorGalleryProvider, Xcos.ML.PgVector",
        ["postgres"] = "Xcos.ML.PgVector.PgVectorGalleryProvider, Xcos.ML.PgVector",
    };

    /// <summary>Makes <paramref name="provider"/> open the URIs of its schemes.</summary>
    public static void Register(IFaceGalleryProvider provider)
    {
        ArgumentNullException.ThrowIfNull(provider);
        foreach (var s in provider.Schemes) Providers[s] = provider;
    }

    /// <summary>The URI scheme of <paramref name="location"/> ("postgresql"), or null for a file path.</summary>
    public static string? SchemeOf(string location)
    {
        ArgumentNullException.ThrowIfNull(location);
        int i = location.IndexOf("://", StringComparison.Ordinal);
        if (i <= 1) return null;   // "C://" style drive letters are paths
        var scheme = location[..i];
        return scheme.All(c => char.IsAsciiLetterOrDigit(c) || c is '+' or '-' or '.') ? scheme.ToLowerInvariant() : null;
    }

    /// <summary>The gallery named by <see cref="EnvironmentVariable"/>, or null.</summary>
    public static string? FromEnvironment() => Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } v ? v : null;

    /// <summary>A file path made absolute; a URI unchanged.</summary>
    public static string Normalize(string location) => SchemeOf(location) is null ? Path.GetFullPath(location) : location;

    /// <summary>The location as it may be printed: a file's full path, or the URI without any password.</summary>
    public static string Display(string location) => SchemeOf(location) is null ? Path.GetFullPath(location) : ProviderFor(location).Display(location);

    /// <summary>Opens the gallery named by <paramref name="location"/>.</summary>
    /// <param name="location">A gallery file path, or a URI of a registered scheme.</param>
    /// <param name="model">The face model of the caller; the gallery must have been built with it (null: accept the stored one, read-only use).</param>
    /// <param name="mode">Read only, read and write, or create when missing.</param>
    /// <param name="fileOptions">Index and compaction settings of a file gallery (ignored for a URI).</param>
    /// <exception cref="InvalidDataException">The gallery was built with another model.</exception>
    /// <exception cref="GalleryUnavailableException">The store behind a URI cannot be reached or used.</exception>
    public static IFaceGallery Open(string location, GalleryModelStamp? model, GalleryOpenMode mode, FaceGalleryOptions? fileOptions = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(location);
        if (mode == GalleryOpenMode.OpenOrCreate) ArgumentNullException.ThrowIfNull(model);
        if (SchemeOf(location) is not null) return ProviderFor(location).Open(location, model, mode);
        var options = fileOptions ?? new FaceGalleryOptions();
        options.ReadOnly = mode == GalleryOpenMode.ReadOnly;
        return mode == GalleryOpenMode.OpenOrCreate ? FaceGallery.OpenOrCreate(location, model!, options) : FaceGallery.Open(location, model, options);
    }

    private static IFaceGalleryProvider ProviderFor(string location)
    {
        var scheme = SchemeOf(location)!;
        if (Providers.TryGetValue(scheme, out var p)) return p;
        if (KnownProviders.TryGetValue(scheme, out var typeName))
        {
            Type? type = null;
            try { type = Type.GetType(typeName, throwOnError: false); }
            catch (Exception e) when (e is IOException or BadImageFormatException) { }
            if (type is not null && Activator.CreateInstance(type) is IFaceGalleryProvider found)
            {
                Register(found);
                return found;
            }
            throw new NotSupportedException($"{scheme}:// galleries need the Xcos.ML.PgVector package next to the application (add a reference to it)");
        }
        throw new NotSupportedException($"'{scheme}://' is not a gallery this application can open: give a gallery file path or postgresql://USER@HOST:PORT/DB?table=NAME");
    }
}
