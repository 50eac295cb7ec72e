using System.Globalization;

namespace Xcos.ML.Data;

/// <summary>How <see cref="PairSetReader"/> turns LFW pairs.txt rows into image file names (extension, digits of the image number).</summary>
public sealed class PairSetReaderOptions
{
    /// <summary>Extension of LFW image files, with the dot. Default ".jpg".</summary>
    public string LfwImageExtension { get; set; } = ".jpg";

    /// <summary>Digits of the image number in LFW file names (<c>Name_0001.jpg</c>). Default 4.</summary>
    public int LfwNumberDigits { get; set; } = 4;
}
