namespace Xcos.ML.Data;

/// <summary>One verification pair: two image ids and whether they show the same identity.</summary>
/// <param name="Id1">First image: an index into the images of an InsightFace .bin ("0", "1", ...) or a path relative to the image root.</param>
/// <param name="Id2">Second image, as <paramref name="Id1"/>.</param>
/// <param name="Same">True for a same-identity pair.</param>
public sealed record FacePair(string Id1, string Id2, bool Same);

/// <summary>File formats <see cref="PairSetReader"/> understands.</summary>
public enum PairSetFormat
{
    /// <summary>InsightFace evaluation pickle (lfw.bin, cfp_fp.bin, agedb_30.bin): <c>(bins, issame_list)</c>.</summary>
    InsightFaceBin,
    /// <summary>LFW <c>pairs.txt</c>: a header of counts, then <c>name i j</c> and <c>name1 i name2 j</c> lines.</summary>
    LfwPairs,
    /// <summary>Tab-separated <c>file1, file2, same</c> lines.</summary>
    PairTsv,
}

/// <summary>A list of verification pairs and access to the bytes of each image (encoded JPEG/PNG, not decoded).</summary>
public sealed class PairSet
{
    private readonly IReadOnlyList<byte[]>? _images;

    private readonly IReadOnlyList<int>? _lines;

    private PairSet(string source, PairSetFormat format, IReadOnlyList<FacePair> pairs, IReadOnlyList<byte[]>? images, string? imageRoot,
        IReadOnlyList<int>? lines = null)
    {
        if (lines is not null && lines.Count != pairs.Count)
            throw new ArgumentException($"{source}: {lines.Count} line numbers for {pairs.Count} pairs.", nameof(lines));
        _lines = lines;
        Source = source;
        Format = format;
        Pairs = pairs;
        _images = images;
        ImageRoot = imageRoot;
    }

    /// <summary>Pairs whose images are held in memory, addressed by index ("0", "1", ...).</summary>
    public static PairSet FromImages(string source, PairSetFormat format, IReadOnlyList<FacePair> pairs, IReadOnlyList<byte[]> images)
    {
        foreach (var p in pairs)
            foreach (var id in new[] { p.Id1, p.Id2 })
                if (!int.TryParse(id, out int i) || i < 0 || i >= images.Count)
                    throw new ArgumentException($"{source}: pair image id '{id}' is not an index below {images.Count}.");
        return new PairSet(source, format, pairs, images, null);
    }

    /// <summary>Pairs whose images are files; ids are paths relative to <paramref name="imageRoot"/>.</summary>
    /// <param name="source">The pair file.</param>
    /// <param name="format">Its format.</param>
    /// <param name="pairs">The pairs, in file order.</param>
    /// <param name="imageRoot">Folder the ids are relative to.</param>
    /// <param name="lines">The 1-based line number of each pair in <paramref name="source"/>, when known.</param>
    public static PairSet FromFiles(string source, PairSetFormat format, IReadOnlyList<FacePair> pairs, string imageRoot, IReadOnlyList<int>? lines = null) =>
        new(source, format, pairs, null, Path.GetFullPath(imageRoot), lines);

    /// <summary>
    /// Where pair <paramref name="index"/> (0-based) is in the file, for messages: its line number in a pairs.txt or
    /// TSV read by <see cref="PairSetReader"/>, otherwise its 1-based position (.bin, or pairs built in memory).
    /// </summary>
    public int RowOf(int index) => _lines is not null ? _lines[index] : index + 1;

    /// <summary>The file the pairs were read from.</summary>
    public string Source { get; }

    /// <summary>The format of <see cref="Source"/>.</summary>
    public PairSetFormat Format { get; }

    /// <summary>The pairs, in file order.</summary>
    public IReadOnlyList<FacePair> Pairs { get; }

    /// <summary>Folder that file ids are relative to; null when the images are held in memory (.bin).</summary>
    public string? ImageRoot { get; }

    /// <summary>Pairs in the set, same and different together.</summary>
    public int Count => Pairs.Count;

    /// <summary>The same/different label of every pair, in order.</summary>
    public bool[] Labels => Pairs.Select(p => p.Same).ToArray();

    /// <summary>Full path of a file-backed image; null for in-memory images.</summary>
    public string? ImagePath(string id) => ImageRoot is null ? null : Path.GetFullPath(Path.Combine(ImageRoot, id));

    /// <summary>The encoded bytes of one image.</summary>
    /// <exception cref="FileNotFoundException">A file-backed image is missing (the message names the pair-set file and the image path).</exception>
    public byte[] ReadImage(string id)
    {
        if (_images is not null)
        {
            if (!int.TryParse(id, out int i) || i < 0 || i >= _images.Count)
                throw new KeyNotFoundException($"{Source}: no image '{id}' (the file holds {_images.Count} images, ids 0..{_images.Count - 1}).");
            return _images[i];
        }
        string path = ImagePath(id)!;
        if (!File.Exists(path)) throw new FileNotFoundException($"{Source}: image '{id}' not found at {path}.", path);
        return File.ReadAllBytes(path);
    }

    /// <summary>The encoded bytes of both images of pair <paramref name="index"/>.</summary>
    public (byte[] Image1, byte[] Image2) ReadPair(int index)
    {
        var p = Pairs[index];
        return (ReadImage(p.Id1), ReadImage(p.Id2));
    }
}
