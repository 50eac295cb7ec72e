using System.Globalization;
using System.Text.RegularExpressions;

namespace Xcos.ML.Torch.Networks;

/// <summary>Builds face backbones by name (arcface_torch style: "ir_se", "ir_se50", "ir100", "mobilefacenet", "mbf").</summary>
public static partial class BackboneFactory
{
    /// <summary>Stage tables of the IR / IR-SE presets by depth.</summary>
    public static readonly IReadOnlyDictionary<int, int[]> Presets = new Dictionary<int, int[]>
    {
        [18] = [2, 2, 2, 2],
        [34] = [3, 4, 6, 3],
        [50] = [3, 4, 14, 3],
        [100] = [3, 13, 30, 3],
        [152] = [3, 8, 36, 3],
    };

    /// <summary>Stage table of a preset depth (18, 34, 50, 100, 152).</summary>
    public static int[] StagesFor(int depth) => Presets.TryGetValue(depth, out var s)
        ? (int[])s.Clone()
        : throw new ArgumentException($"No IResNet preset of depth {depth}; presets: {string.Join(", ", Presets.Keys)}.", nameof(depth));

    /// <summary>The backbone named by <paramref name="arch"/>: IR, IR-SE or MobileFaceNet, plain or with the xCos grid layer.</summary>
    /// <param name="arch">"ir", "ir_se", "mobilefacenet" (alias "mbf"); a depth may be appended ("ir_se50", "ir100").</param>
    /// <param name="depth">Preset depth for IR/IR-SE when <paramref name="stages"/> is null and the name has none (default 50).</param>
    /// <param name="stages">Explicit stage table (four counts); wins over any depth.</param>
    /// <param name="grid">xCos grid variant (adds <c>conv1x1</c>).</param>
    /// <param name="gridChannels">Grid cell channels (32).</param>
    /// <param name="dropout">Output-layer dropout of IR/IR-SE (0.6).</param>
    /// <param name="gridSize">Side of the xCos grid (7).</param>
    public static FaceBackbone Create(string arch, int? depth = null, IReadOnlyList<int>? stages = null,
        bool grid = false, int gridChannels = 32, double dropout = 0.6, int gridSize = FaceBackbone.MapSize)
    {
        var (kind, nameDepth) = Parse(arch);
        if (kind == "mobilefacenet")
        {
            if (stages is not null || depth is not null || nameDepth is not null)
                throw new ArgumentException("mobilefacenet has a fixed layout; give no depth or stages.", nameof(arch));
            return new MobileFaceNet(grid, gridChannels, gridSize: gridSize);
        }
        if (depth is not null && nameDepth is not null && depth != nameDepth)
            throw new ArgumentException($"Architecture '{arch}' names depth {nameDepth} but depth {depth} was given.", nameof(depth));
        var table = stages ?? StagesFor(depth ?? nameDepth ?? 50);
        return new IResNet(table, se: kind == "ir_se", grid: grid, gridChannels: gridChannels, dropout: dropout, gridSize: gridSize);
    }

    /// <summary>Splits an architecture name into its kind ("ir", "ir_se", "mobilefacenet") and optional depth.</summary>
    public static (string Kind, int? Depth) Parse(string arch)
    {
        ArgumentNullException.ThrowIfNull(arch);
        var a = arch.Trim().ToLowerInvariant().Replace('-', '_');
        if (a is "mobilefacenet" or "mbf") return ("mobilefacenet", null);
        var m = NameRegex().Match(a);
        if (!m.Success)
            throw new ArgumentException($"Unknown backbone '{arch}': expected ir, ir_se (optionally with a depth, e.g. ir_se50) or mobilefacenet.", nameof(arch));
        int? d = m.Groups[2].Success && m.Groups[2].Length > 0 ? int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture) : null;
        return (m.Groups[1].Value, d);
    }

    [GeneratedRegex(@"^(ir_se|ir)_?(\d*)$")]
    private static partial Regex NameRegex();
}
