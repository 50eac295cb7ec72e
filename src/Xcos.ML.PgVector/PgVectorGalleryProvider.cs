using Xcos.ML.Gallery;

namespace Xcos.ML.PgVector;

/// <summary>
/// Opens <c>postgresql://</c> and <c>postgres://</c> galleries for <see cref="FaceGalleries"/>. <see cref="FaceGalleries"/>
/// finds this provider by itself when this assembly is next to the application; <see cref="Register"/> makes it explicit.
/// </summary>
public sealed class PgVectorGalleryProvider : IFaceGalleryProvider
{
    /// <summary>Search settings of the galleries this provider opens.</summary>
    public PgVectorGalleryOptions Options { get; init; } = new();

    /// <summary>Registers a provider with default options.</summary>
    public static void Register() => FaceGalleries.Register(new PgVectorGalleryProvider());

    /// <inheritdoc/>
    public IReadOnlyList<string> Schemes { get; } = ["postgresql", "postgres"];

    /// <inheritdoc/>
    /// <remarks>A password written in the URI is never used or shown: a warning on stderr says so (once per process).</remarks>
    public IFaceGallery Open(string location, GalleryModelStamp? model, GalleryOpenMode mode)
    {
        var parsed = PgVectorGalleryLocation.Parse(location);
        if (parsed.PasswordDropped) WarnPassword();
        return PgVectorFaceGallery.Open(parsed, model, mode, Options);
    }

    /// <inheritdoc/>
    public string Display(string location) => PgVectorGalleryLocation.Parse(location).ToString();

    private static int _warned;

    private static void WarnPassword()
    {
        if (Interlocked.Exchange(ref _warned, 1) == 0)
            Console.Error.WriteLine("xcos: warning: the password written in the gallery URI is ignored (not used, not shown); set PGPASSWORD or use ~/.pgpass");
    }
}
