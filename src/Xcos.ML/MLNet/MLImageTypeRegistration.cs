using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace Xcos.ML.MLNet;

/// <summary>
/// Maps a plain <see cref="MLImage"/> member (no attribute) to the unsized image type that
/// <c>LoadImages</c> produces, so CustomMapping classes can read the image as loaded.
/// </summary>
/// <remarks>
/// ML.NET 5.0.1 does not register <see cref="MLImage"/> itself, and <c>[ImageType]</c> without a size throws
/// ("Must be positive"), so the unsized mapping has to be registered by hand, once per process.
/// </remarks>
internal static class MLImageTypeRegistration
{
    private static readonly object Gate = new();
    private static bool _done;

    public static void Ensure()
    {
        lock (Gate)
        {
            if (_done) return;
            DataViewTypeManager.Register(new ImageDataViewType(), typeof(MLImage));
            _done = true;
        }
    }
}
