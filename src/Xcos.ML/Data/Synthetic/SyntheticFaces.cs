using System.Globalization;
using System.Text;
using Xcos.ML.Figures;

namespace Xcos.ML.Data.Synthetic;

/// <summary>A pair of generated images for verification, addressed by identity and image index.</summary>
/// <param name="Identity1">Identity of the first image.</param>
/// <param name="Index1">Image index of the first image.</param>
/// <param name="Identity2">Identity of the second image.</param>
/// <param name="Index2">Image index of the second image.</param>
/// <param name="Same">True when both images show the same identity.</param>
public readonly record struct SyntheticPair(int Identity1, int Index1, int Identity2, int Index2, bool Same);

/// <summary>
/// Generates face-like images with identities for tests and demos. Each identity has fixed shape cues
/// (outline, eye spacing and size, brows, nose, mouth, skin tone, hair, an optional mark); each image adds
/// nuisance (pose, background, lighting, expression, noise, blur, and sometimes glasses, a mask or a hand) so
/// that raw pixel cosine is a poor verifier while identity stays recoverable from shape.
/// Faces are laid out like ArcFace-aligned crops and the true 5-point landmarks are returned per image.
/// Output depends only on the options: the same seed gives byte-identical images, in any order and on any number of workers.
/// </summary>
public sealed class SyntheticFaces
{
    private readonly FaceIdentity[] _identities;

    /// <summary>Creates a generator; identities are sampled now, images on demand.</summary>
    public SyntheticFaces(SyntheticFacesOptions? options = null)
    {
        Options = options ?? new SyntheticFacesOptions();
        Options.Validate();
        _identities = new FaceIdentity[Options.Identities];
        for (int i = 0; i < _identities.Length; i++)
            _identities[i] = FaceIdentity.Sample(SplitMix.For(Options.Seed, i, -1));
        ValidationIdentities = (int)Math.Round(Options.Identities * Options.ValidationFraction);
    }

    /// <summary>The options this generator was built with (do not change them afterwards).</summary>
    public SyntheticFacesOptions Options { get; }

    /// <summary>How many identities are held out; they are the last ones, [Identities - ValidationIdentities, Identities).</summary>
    public int ValidationIdentities { get; }

    /// <summary>How many identities are used for training.</summary>
    public int TrainIdentities => Options.Identities - ValidationIdentities;

    /// <summary>True when <paramref name="identity"/> is held out for validation.</summary>
    public bool IsValidationIdentity(int identity) => identity >= TrainIdentities;

    /// <summary>Folder name of an identity: <c>id</c> and four or more digits.</summary>
    public static string IdentityName(int identity) => "id" + identity.ToString("D4", CultureInfo.InvariantCulture);

    /// <summary>Generates one image. Deterministic in (seed, identity, index).</summary>
    public SyntheticFace Generate(int identity, int index)
    {
        if ((uint)identity >= (uint)_identities.Length)
            throw new ArgumentOutOfRangeException(nameof(identity), identity, $"identity must be in [0, {_identities.Length})");
        if ((uint)index >= (uint)Options.ImagesPerIdentity)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"index must be in [0, {Options.ImagesPerIdentity})");
        var r = SplitMix.For(Options.Seed, identity, index);
        var n = FaceNuisance.Sample(r, Options.NuisanceStrength);
        var (rgb, lm) = FaceRenderer.Render(_identities[identity], n, Options.ImageSize, r);
        return new SyntheticFace
        {
            Identity = identity,
            Index = index,
            IsValidation = IsValidationIdentity(identity),
            Size = Options.ImageSize,
            Rgb = rgb,
            Landmarks = new FaceLandmarks(lm),
        };
    }

    /// <summary>Generates every image of the given identities, ordered by identity then index.</summary>
    /// <param name="identities">Identity indices to generate.</param>
    /// <param name="progress">Receives the number of images finished so far (from worker threads).</param>
    /// <param name="cancellationToken">Stops generation early.</param>
    public IReadOnlyList<SyntheticFace> Generate(IEnumerable<int> identities, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        var ids = identities.ToArray();
        int per = Options.ImagesPerIdentity;
        var result = new SyntheticFace[ids.Length * per];
        int done = 0;
        Parallel.For(0, result.Length, ParallelOptions(cancellationToken), k =>
        {
            result[k] = Generate(ids[k / per], k % per);
            progress?.Report(Interlocked.Increment(ref done));
        });
        return result;
    }

    /// <summary>Generates the training identities' images.</summary>
    public IReadOnlyList<SyntheticFace> GenerateTrain(IProgress<int>? progress = null, CancellationToken cancellationToken = default)
        => Generate(Enumerable.Range(0, TrainIdentities), progress, cancellationToken);

    /// <summary>Generates the held-out identities' images.</summary>
    public IReadOnlyList<SyntheticFace> GenerateValidation(IProgress<int>? progress = null, CancellationToken cancellationToken = default)
        => Generate(Enumerable.Range(TrainIdentities, ValidationIdentities), progress, cancellationToken);

    /// <summary>
    /// Seeded, balanced verification pairs over the held-out identities: <see cref="SyntheticFacesOptions.ValidationPairs"/>/2
    /// same-identity and as many different-identity pairs, alternating (same, different, same, ...) so that any contiguous
    /// block of even length, such as one of 10 folds, is balanced too. No pair is repeated.
    /// </summary>
    public IReadOnlyList<SyntheticPair> ValidationPairs()
    {
        int half = Options.ValidationPairs / 2;
        if (half == 0) return [];
        if (ValidationIdentities < 2)
            throw new InvalidOperationException($"validation pairs need at least 2 held-out identities, have {ValidationIdentities} (Identities={Options.Identities}, ValidationFraction={Options.ValidationFraction})");
        int per = Options.ImagesPerIdentity;
        if (per < 2) throw new InvalidOperationException("same-identity pairs need at least 2 images per identity");
        long sameMax = (long)ValidationIdentities * per * (per - 1) / 2;
        long diffMax = (long)ValidationIdentities * (ValidationIdentities - 1) / 2 * per * per;
        if (half > sameMax || half > diffMax)
            throw new InvalidOperationException($"{Options.ValidationPairs} pairs requested, but {ValidationIdentities} held-out identities x {per} images allow only {2 * Math.Min(sameMax, diffMax)} distinct balanced pairs");

        var r = SplitMix.For(Options.Seed, -2, -2);
        var seen = new HashSet<(int, int, int, int)>();
        var pairs = new List<SyntheticPair>(2 * half);
        int start = TrainIdentities;
        while (pairs.Count < half)
        {
            int id = start + r.Next(ValidationIdentities);
            int a = r.Next(per), b = r.Next(per);
            if (a == b) continue;
            if (a > b) (a, b) = (b, a);
            if (seen.Add((id, a, id, b))) pairs.Add(new SyntheticPair(id, a, id, b, true));
        }
        while (pairs.Count < 2 * half)
        {
            int i1 = start + r.Next(ValidationIdentities), i2 = start + r.Next(ValidationIdentities);
            if (i1 == i2) continue;
            int a = r.Next(per), b = r.Next(per);
            if (i1 > i2) { (i1, i2) = (i2, i1); (a, b) = (b, a); }
            if (seen.Add((i1, a, i2, b))) pairs.Add(new SyntheticPair(i1, a, i2, b, false));
        }
        var mixed = new SyntheticPair[pairs.Count];
        for (int i = 0; i < half; i++)
        {
            mixed[2 * i] = pairs[i];
            mixed[2 * i + 1] = pairs[half + i];
        }
        return mixed;
    }

    /// <summary>Path of an image relative to the <see cref="WriteImageFolder"/> root, '/' separated.</summary>
    public string RelativePath(int identity, int index)
        => $"{(IsValidationIdentity(identity) ? "val" : "train")}/{IdentityName(identity)}/{index.ToString("D4", CultureInfo.InvariantCulture)}.png";

    /// <summary>
    /// Writes the data set as an image folder:
    /// <c>dir/train/&lt;id&gt;/&lt;n&gt;.png</c> (training identities), <c>dir/val/&lt;id&gt;/&lt;n&gt;.png</c> (held-out identities),
    /// <c>dir/val_pairs.tsv</c> (header <c>file1 file2 same</c>, then one pair per row, paths relative to <paramref name="dir"/>,
    /// same = 1 or 0) and <c>dir/landmarks.tsv</c> (header <c>file x1 y1 ... x5 y5</c>, one row per image, pixels).
    /// Files are tab separated; every file is written to a temporary name and renamed.
    /// </summary>
    /// <param name="dir">Root folder; created when missing.</param>
    /// <param name="progress">Receives the number of images written so far (from worker threads).</param>
    /// <param name="cancellationToken">Stops writing early.</param>
    public void WriteImageFolder(string dir, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(dir);
        var pairs = ValidationPairs();
        int per = Options.ImagesPerIdentity;
        int total = Options.Identities * per;
        var landmarks = new float[total][];
        for (int id = 0; id < Options.Identities; id++)
            Directory.CreateDirectory(Path.Combine(dir, IsValidationIdentity(id) ? "val" : "train", IdentityName(id)));
        int done = 0;
        Parallel.For(0, total, ParallelOptions(cancellationToken), k =>
        {
            var face = Generate(k / per, k % per);
            var png = RgbPng.EncodeRgb(face.Rgb, face.Size, face.Size);
            RgbPng.WriteAtomic(Path.Combine(dir, face.RelativePath), png);
            landmarks[k] = face.Landmarks.Points;
            progress?.Report(Interlocked.Increment(ref done));
        });

        var lm = new StringBuilder("file\tx1\ty1\tx2\ty2\tx3\ty3\tx4\ty4\tx5\ty5\n");
        for (int k = 0; k < total; k++)
        {
            lm.Append(RelativePath(k / per, k % per));
            foreach (var v in landmarks[k]) lm.Append('\t').Append(v.ToString("0.###", CultureInfo.InvariantCulture));
            lm.Append('\n');
        }
        RgbPng.WriteAtomic(Path.Combine(dir, "landmarks.tsv"), Encoding.UTF8.GetBytes(lm.ToString()));

        var pt = new StringBuilder("file1\tfile2\tsame\n");
        foreach (var p in pairs)
            pt.Append(RelativePath(p.Identity1, p.Index1)).Append('\t')
              .Append(RelativePath(p.Identity2, p.Index2)).Append('\t')
              .Append(p.Same ? '1' : '0').Append('\n');
        RgbPng.WriteAtomic(Path.Combine(dir, "val_pairs.tsv"), Encoding.UTF8.GetBytes(pt.ToString()));
    }

    private ParallelOptions ParallelOptions(CancellationToken ct) => new()
    {
        CancellationToken = ct,
        MaxDegreeOfParallelism = Options.Workers > 0 ? Options.Workers : Environment.ProcessorCount,
    };
}
