using SkiaSharp;

namespace Xcos.ML.Data.Synthetic;

/// <summary>
/// Fixed shape parameters of one synthetic identity, in 112x112 template coordinates.
/// These are the cues a verifier has to learn; everything per-image lives in <see cref="FaceNuisance"/>.
/// </summary>
internal sealed class FaceIdentity
{
    // Face outline: centre, half axes, jaw narrowing (1 = ellipse) and chin point.
    public float FaceCy, FaceHalfW, FaceHalfH, Jaw, Chin;
    public SKColor Skin;
    public SKColor Hair;
    public int HairStyle; // 0 bald, 1 short, 2 long, 3 fringe, 4 side part, 5 curly
    public float Hairline, HairVolume, PartSide;
    public float EyeSpacing, EyeDy, EyeRx, EyeRy;
    public SKColor Iris;
    public float BrowThickness, BrowArch, BrowGap, BrowLength, BrowTilt;
    public float NoseDy, NoseDx, NoseWidth, NoseBridge;
    public int NoseStyle;
    public float MouthHalfWidthDelta, MouthDy, LipThickness, MouthCurve;
    public SKColor Lip;
    public float EarSize;
    public int Mark; // 0 none, 1 mole, 2 moustache, 3 freckles, 4 beard
    public float MarkX, MarkY, MarkSize;

    private static readonly SKColor[] HairPalette =
    [
        new(22, 18, 16), new(58, 38, 24), new(105, 70, 42), new(200, 168, 105),
        new(145, 62, 30), new(150, 150, 148), new(222, 220, 212), new(80, 55, 40),
    ];

    private static readonly SKColor[] IrisPalette =
    [
        new(70, 42, 20), new(40, 25, 12), new(60, 110, 170), new(80, 130, 80), new(110, 110, 120), new(140, 100, 50),
    ];

    public static FaceIdentity Sample(SplitMix r)
    {
        var id = new FaceIdentity
        {
            FaceCy = (float)r.Uniform(60, 66),
            FaceHalfW = (float)r.Uniform(30, 40),
            FaceHalfH = (float)r.Uniform(42, 51),
            Jaw = (float)r.Uniform(0.62, 1.0),
            Chin = (float)r.Uniform(0, 7),
        };
        // Skin: a light-to-dark ramp with a warm/cool tint.
        double t = r.NextDouble();
        var light = (r: 244.0, g: 208.0, b: 184.0);
        var mid = (r: 196.0, g: 138.0, b: 98.0);
        var dark = (r: 92.0, g: 60.0, b: 44.0);
        (double R, double G, double B) s = t < 0.5
            ? Lerp(light, mid, t / 0.5)
            : Lerp(mid, dark, (t - 0.5) / 0.5);
        double tint = r.Uniform(-14, 14);
        id.Skin = Rgb(s.R + tint, s.G, s.B - tint);
        var h = HairPalette[r.Next(HairPalette.Length)];
        id.Hair = Rgb(h.Red + r.Uniform(-15, 15), h.Green + r.Uniform(-15, 15), h.Blue + r.Uniform(-12, 12));
        id.HairStyle = r.Next(6);
        id.Hairline = (float)r.Uniform(20, 31);
        id.HairVolume = (float)r.Uniform(2, 10);
        id.PartSide = r.Chance(0.5) ? -1 : 1;
        id.EyeSpacing = (float)r.Uniform(-3.5, 3.5);
        id.EyeDy = (float)r.Uniform(-2.5, 2.5);
        id.EyeRx = (float)r.Uniform(4.2, 7.2);
        id.EyeRy = (float)r.Uniform(2.2, 4.2);
        var iris = IrisPalette[r.Next(IrisPalette.Length)];
        id.Iris = Rgb(iris.Red + r.Uniform(-10, 10), iris.Green + r.Uniform(-10, 10), iris.Blue + r.Uniform(-10, 10));
        id.BrowThickness = (float)r.Uniform(1.4, 4.6);
        id.BrowArch = (float)r.Uniform(-1.5, 4.5);
        id.BrowGap = (float)r.Uniform(6, 10.5);
        id.BrowLength = (float)r.Uniform(10, 17);
        id.BrowTilt = (float)r.Uniform(-0.22, 0.22);
        id.NoseDy = (float)r.Uniform(-3.5, 3.5);
        id.NoseDx = (float)r.Uniform(-1.2, 1.2);
        id.NoseWidth = (float)r.Uniform(6, 14);
        id.NoseBridge = (float)r.Uniform(8, 18);
        id.NoseStyle = r.Next(3);
        id.MouthHalfWidthDelta = (float)r.Uniform(-3.5, 3.5);
        id.MouthDy = (float)r.Uniform(-2.5, 2.5);
        id.LipThickness = (float)r.Uniform(1.5, 4.5);
        id.MouthCurve = (float)r.Uniform(-2, 3);
        double lipMix = r.Uniform(0.15, 0.45);
        id.Lip = Rgb(id.Skin.Red * (1 - lipMix) + 170 * lipMix, id.Skin.Green * (1 - lipMix) + 50 * lipMix, id.Skin.Blue * (1 - lipMix) + 60 * lipMix);
        id.EarSize = (float)r.Uniform(6, 11);
        double m = r.NextDouble();
        id.Mark = m < 0.45 ? 0 : m < 0.62 ? 1 : m < 0.75 ? 2 : m < 0.87 ? 3 : 4;
        id.MarkX = (float)r.Uniform(-24, 24);
        id.MarkY = (float)r.Uniform(60, 84);
        id.MarkSize = (float)r.Uniform(1.3, 2.8);
        return id;
    }

    private static (double, double, double) Lerp((double r, double g, double b) a, (double r, double g, double b) b, double t)
        => (a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t);

    internal static SKColor Rgb(double r, double g, double b) => new(Clamp(r), Clamp(g), Clamp(b));

    internal static byte Clamp(double v) => (byte)Math.Clamp(Math.Round(v), 0, 255);
}

/// <summary>Per-image variation that does not change identity.</summary>
internal sealed class FaceNuisance
{
    public float Rotation, Scale, Tx, Ty;
    public SKColor Bg1, Bg2;
    public float BgAngle;
    public int BgBlobs;
    public float LightAngle, LightStrength, Brightness, CastR, CastG, CastB;
    public float Smile, MouthOpen, EyeOpen, GazeX, GazeY;
    public int Glasses; // 0 none, 1 clear frames, 2 sunglasses
    public bool Mask, Hand;
    public float HandSide, HandY;
    public SKColor Occluder;
    public float Noise, Blur;

    public static FaceNuisance Sample(SplitMix r, double s)
    {
        var n = new FaceNuisance
        {
            Rotation = (float)(r.Uniform(-9, 9) * s),
            Scale = (float)(1 + r.Uniform(-0.07, 0.07) * s),
            Tx = (float)(r.Uniform(-4, 4) * s),
            Ty = (float)(r.Uniform(-4, 4) * s),
        };
        // Background: at s = 0 a fixed mid grey; otherwise a random two-colour gradient drifting away from it.
        var g = new SKColor(128, 128, 128);
        double bs = Math.Min(1, s);
        n.Bg1 = Mix(g, FaceIdentity.Rgb(r.Uniform(10, 245), r.Uniform(10, 245), r.Uniform(10, 245)), bs);
        n.Bg2 = Mix(g, FaceIdentity.Rgb(r.Uniform(10, 245), r.Uniform(10, 245), r.Uniform(10, 245)), bs);
        n.BgAngle = (float)r.Uniform(0, 2 * Math.PI);
        n.BgBlobs = s > 0 ? r.Next(4) : 0;
        n.LightAngle = (float)r.Uniform(0, 2 * Math.PI);
        n.LightStrength = (float)(r.Uniform(0, 0.55) * s);
        n.Brightness = (float)Math.Pow(r.Uniform(0.78, 1.2), s);
        n.CastR = (float)(1 + r.Uniform(-0.08, 0.08) * s);
        n.CastG = (float)(1 + r.Uniform(-0.08, 0.08) * s);
        n.CastB = (float)(1 + r.Uniform(-0.08, 0.08) * s);
        n.Smile = (float)(r.Uniform(-2, 4) * s);
        n.MouthOpen = r.Chance(0.25 * s) ? (float)r.Uniform(1.5, 5) : 0;
        n.EyeOpen = r.Chance(0.1 * s) ? (float)r.Uniform(0.1, 0.3) : (float)(1 - r.Uniform(0, 0.35) * s);
        n.GazeX = (float)(r.Uniform(-1, 1) * s);
        n.GazeY = (float)(r.Uniform(-0.6, 0.6) * s);
        n.Glasses = r.Chance(0.22 * s) ? (r.Chance(0.4) ? 2 : 1) : 0;
        n.Mask = r.Chance(0.1 * s);
        n.Hand = r.Chance(0.1 * s);
        n.HandSide = r.Chance(0.5) ? -1 : 1;
        n.HandY = (float)r.Uniform(62, 100);
        n.Occluder = FaceIdentity.Rgb(r.Uniform(20, 240), r.Uniform(20, 240), r.Uniform(20, 240));
        n.Noise = (float)(r.Uniform(0, 9) * s);
        n.Blur = (float)(r.Uniform(0, 1.3) * s);
        return n;
    }

    private static SKColor Mix(SKColor a, SKColor b, double t)
        => FaceIdentity.Rgb(a.Red + (b.Red - a.Red) * t, a.Green + (b.Green - a.Green) * t, a.Blue + (b.Blue - a.Blue) * t);
}
