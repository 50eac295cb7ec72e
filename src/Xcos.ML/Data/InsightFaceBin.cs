using System.Globalization;

namespace Xcos.ML.Data;

/// <summary>Reader for InsightFace evaluation sets (lfw.bin, cfp_fp.bin, agedb_30.bin, ...): a Python pickle of
/// <c>(bins, issame_list)</c> where <c>bins</c> holds 2N encoded images (pair i = images 2i and 2i+1) and
/// <c>issame_list</c> N booleans. Python 2 (BINSTRING) and Python 3 (protocol 2 <c>_codecs.encode</c>, protocol 3+
/// BINBYTES) encodings are read; nothing but plain data is ever built from the file.</summary>
internal static class InsightFaceBin
{
    /// <summary>Reads the images and labels.</summary>
    /// <exception cref="InvalidDataException">Not such a pickle, truncated, or containing anything but plain data; the message names the file.</exception>
    public static (IReadOnlyList<byte[]> Images, bool[] IsSame) Read(string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Read(fs, path);
    }

    /// <summary>Reads from a stream; <paramref name="name"/> appears in error messages.</summary>
    public static (IReadOnlyList<byte[]> Images, bool[] IsSame) Read(Stream stream, string name)
    {
        object? root = RestrictedUnpickler.Load(stream, name);
        IReadOnlyList<object?> top = root switch
        {
            object?[] t => t,
            List<object?> l => l,
            _ => throw new InvalidDataException($"{name}: expected a pickled (bins, issame_list) pair, found {Describe(root)}."),
        };
        if (top.Count != 2) throw new InvalidDataException($"{name}: expected a pickled (bins, issame_list) pair, found {top.Count} items.");
        var bins = AsSequence(top[0], name, "bins");
        var issame = AsSequence(top[1], name, "issame_list");

        var images = new byte[bins.Count][];
        for (int i = 0; i < bins.Count; i++)
            images[i] = bins[i] as byte[] ?? throw new InvalidDataException($"{name}: bins[{i}] is {Describe(bins[i])}, expected encoded image bytes.");
        var labels = new bool[issame.Count];
        for (int i = 0; i < issame.Count; i++)
        {
            labels[i] = issame[i] switch
            {
                bool b => b,
                long v and (0 or 1) => v == 1,
                var other => throw new InvalidDataException($"{name}: issame_list[{i}] is {Describe(other)}, expected a boolean."),
            };
        }
        if (images.Length != 2 * labels.Length)
            throw new InvalidDataException($"{name}: {images.Length} images for {labels.Length} pairs; expected exactly {2 * labels.Length}.");
        return (images, labels);
    }

    /// <summary>Reads a .bin as a <see cref="PairSet"/>: pair i has ids <c>2i</c> and <c>2i+1</c>.</summary>
    public static PairSet Load(string path)
    {
        var (images, same) = Read(path);
        var pairs = new FacePair[same.Length];
        for (int i = 0; i < same.Length; i++) pairs[i] = new FacePair((2 * i).ToString(CultureInfo.InvariantCulture), (2 * i + 1).ToString(CultureInfo.InvariantCulture), same[i]);
        return PairSet.FromImages(path, PairSetFormat.InsightFaceBin, pairs, images);
    }

    private static IReadOnlyList<object?> AsSequence(object? value, string name, string what) => value switch
    {
        List<object?> l => l,
        object?[] t => t,
        _ => throw new InvalidDataException($"{name}: {what} is {Describe(value)}, expected a list."),
    };

    private static string Describe(object? v) => v switch
    {
        null => "None",
        byte[] b => $"bytes of length {b.Length}",
        string => "a text string",
        bool => "a boolean",
        long => "an integer",
        object?[] t => $"a tuple of {t.Length}",
        List<object?> l => $"a list of {l.Count}",
        _ => v.GetType().Name,
    };
}
