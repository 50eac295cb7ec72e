using System.Text;

namespace Xcos.ML.Data;

/// <summary>Which files <see cref="ImageFolder.Load"/> takes as images.</summary>
public sealed class ImageFolderOptions
{
    /// <summary>File extensions taken as images, compared case-insensitively. Default .jpg .jpeg .png .bmp .webp.</summary>
    public string[] Extensions { get; set; } = [".jpg", ".jpeg", ".png", ".bmp", ".webp"];

    /// <summary>Whether an identity folder without any image is allowed (it keeps its label). Default false:
    /// as torchvision, such a folder is an error.</summary>
    public bool AllowEmptyIdentities { get; set; }
}

/// <summary>One image of an <see cref="ImageFolder"/>.</summary>
/// <param name="Path">Full path of the image file.</param>
/// <param name="Label">Index of its identity in <see cref="ImageFolder.Identities"/>.</param>
public sealed record ImageFolderSample(string Path, int Label);

/// <summary>An index of <c>root/&lt;identity&gt;/&lt;image&gt;</c>, numbered as torchvision's <c>ImageFolder</c>:
/// identities are the sub-folders of the root sorted by code point, images are gathered from each identity folder
/// and its sub-folders (folders visited in sorted path order, file names sorted within each).</summary>
public sealed class ImageFolder
{
    private ImageFolder(string root, string[] identities, ImageFolderSample[] samples)
    {
        Root = root;
        Identities = identities;
        Samples = samples;
        IdentityToLabel = identities.Select((name, i) => (name, i)).ToDictionary(t => t.name, t => t.i, StringComparer.Ordinal);
    }

    /// <summary>Full path of the root folder.</summary>
    public string Root { get; }

    /// <summary>Identity (folder) names; the label of an identity is its index here.</summary>
    public IReadOnlyList<string> Identities { get; }

    /// <summary>Label of each identity name.</summary>
    public IReadOnlyDictionary<string, int> IdentityToLabel { get; }

    /// <summary>All images, identity by identity, in torchvision's order.</summary>
    public IReadOnlyList<ImageFolderSample> Samples { get; }

    /// <summary>Images found, over all identities.</summary>
    public int Count => Samples.Count;

    /// <summary>Label of every sample, in order.</summary>
    public int[] Labels => Samples.Select(s => s.Label).ToArray();

    /// <summary>Lists the images under <paramref name="root"/>, one subfolder per identity (ImageFolder layout), sorted by Unicode code point (as Python's <c>sorted</c>) so the order is the same on every machine.</summary>
    /// <exception cref="DirectoryNotFoundException">The root does not exist.</exception>
    /// <exception cref="InvalidDataException">The root has no identity folders, or an identity folder has no image.</exception>
    public static ImageFolder Load(string root, ImageFolderOptions? options = null)
    {
        options ??= new ImageFolderOptions();
        string full = Path.GetFullPath(root);
        if (!Directory.Exists(full)) throw new DirectoryNotFoundException($"image folder root not found: {full}");
        var extensions = options.Extensions.Select(e => e.ToLowerInvariant()).ToArray();

        string[] identities = new DirectoryInfo(full).EnumerateDirectories()
            .Select(d => d.Name).OrderBy(n => n, CodePointComparer.Instance).ToArray();
        if (identities.Length == 0) throw new InvalidDataException($"{full}: no identity folders (expected root/<identity>/<image>).");

        var samples = new List<ImageFolderSample>();
        var empty = new List<string>();
        for (int label = 0; label < identities.Length; label++)
        {
            int before = samples.Count;
            string dir = Path.Combine(full, identities[label]);
            // torchvision: sorted(os.walk(dir, followlinks=True)), then sorted file names of each folder; links are
            // followed too, but a folder already walked (a link back up, `self -> .`) is not walked again, so a loop ends
            var folders = new List<string>();
            Walk(dir, folders, new HashSet<string>(StringComparer.Ordinal));
            folders.Sort(CodePointComparer.Instance);
            foreach (string folder in folders)
            {
                var files = Directory.EnumerateFiles(folder, "*", new EnumerationOptions { AttributesToSkip = 0 })
                    .Select(Path.GetFileName).OfType<string>()
                    .Where(f => extensions.Any(e => f.ToLowerInvariant().EndsWith(e, StringComparison.Ordinal)))
                    .OrderBy(f => f, CodePointComparer.Instance);
                foreach (string f in files) samples.Add(new ImageFolderSample(Path.Combine(folder, f), label));
            }
            if (samples.Count == before) empty.Add(identities[label]);
        }
        if (empty.Count > 0 && !options.AllowEmptyIdentities)
            throw new InvalidDataException(
                $"{full}: no image ({string.Join(", ", options.Extensions)}) for identit{(empty.Count == 1 ? "y" : "ies")} {string.Join(", ", empty.Take(10))}{(empty.Count > 10 ? $" and {empty.Count - 10} more" : "")}.");
        return new ImageFolder(full, identities, samples.ToArray());
    }

    private static void Walk(string folder, List<string> folders, HashSet<string> seen)
    {
        if (!seen.Add(FileKinds.RealPath(folder))) return;
        folders.Add(folder);
        foreach (var sub in Directory.EnumerateDirectories(folder, "*", new EnumerationOptions { AttributesToSkip = 0 }).Order(StringComparer.Ordinal))
            Walk(sub, folders, seen);
    }

    /// <summary>
    /// An image folder made of listed images (e.g. the rows of an ML.NET data view): identities in code-point order of
    /// their names, each image labelled with its identity's index; <paramref name="root"/> only names the set in messages.
    /// </summary>
    /// <exception cref="ArgumentException">No rows, or a row with an empty path or identity (the message gives its index).</exception>
    public static ImageFolder FromList(string root, IReadOnlyList<(string Path, string Identity)> images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Count == 0) throw new ArgumentException($"{root}: no images", nameof(images));
        for (int i = 0; i < images.Count; i++)
            if (string.IsNullOrWhiteSpace(images[i].Path) || string.IsNullOrWhiteSpace(images[i].Identity))
                throw new ArgumentException($"{root}: row {i} has an empty {(string.IsNullOrWhiteSpace(images[i].Path) ? "image path" : "identity")}", nameof(images));
        var identities = images.Select(r => r.Identity).Distinct(StringComparer.Ordinal).OrderBy(n => n, CodePointComparer.Instance).ToArray();
        var label = identities.Select((n, i) => (n, i)).ToDictionary(x => x.n, x => x.i, StringComparer.Ordinal);
        return new ImageFolder(root, identities, images.Select(r => new ImageFolderSample(Path.GetFullPath(r.Path), label[r.Identity])).ToArray());
    }

    /// <summary>Orders strings by Unicode code point, as Python's <c>sorted</c> does (UTF-16 ordinal order differs above U+FFFF).</summary>
    internal sealed class CodePointComparer : IComparer<string>
    {
        public static readonly CodePointComparer Instance = new();

        public int Compare(string? x, string? y)
        {
            if (x is null || y is null) return x is null ? (y is null ? 0 : -1) : 1;
            var ex = x.EnumerateRunes();
            var ey = y.EnumerateRunes();
            while (true)
            {
                bool hx = ex.MoveNext(), hy = ey.MoveNext();
                if (!hx || !hy) return hx ? 1 : hy ? -1 : 0;
                int c = ex.Current.Value.CompareTo(ey.Current.Value);
                if (c != 0) return c;
            }
        }
    }
}
