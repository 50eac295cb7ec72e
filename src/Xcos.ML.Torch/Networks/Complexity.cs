using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Networks;

/// <summary>Which head of a backbone <see cref="Complexity.CountMacs"/> includes.</summary>
public enum BackboneHead
{
    /// <summary>The trunk only (up to the 512x7x7 map).</summary>
    None,
    /// <summary>Trunk plus the plain 512-d embedding head (<c>output_layer</c> / MobileFaceNet's GDC head).</summary>
    Plain,
    /// <summary>Trunk plus the xCos grid layer <c>conv1x1</c>.</summary>
    Grid,
}

/// <summary>Analytic cost of a network from its layer shapes (no forward pass).</summary>
public static class Complexity
{
    private static readonly HashSet<string> PlainHeadChildren = ["output_layer", "conv_6_dw", "linear", "bn"];
    private const string GridHeadChild = "conv1x1";

    /// <summary>Number of parameter elements (optionally only those that require gradients).</summary>
    public static long CountParameters(nn.Module module, bool trainableOnly = false) =>
        module.parameters().Where(p => !trainableOnly || p.requires_grad).Sum(p => p.numel());

    /// <summary>
    /// Multiply-accumulates of one image through a backbone: every convolution
    /// (k_h*k_w*C_in/groups per output element) and linear layer (in*out); normalisation,
    /// activations, pooling and additions are not counted.
    /// </summary>
    /// <param name="backbone">The network.</param>
    /// <param name="head">Head to include (default: plain).</param>
    /// <param name="height">Input height (112).</param>
    /// <param name="width">Input width (112).</param>
    public static long CountMacs(FaceBackbone backbone, BackboneHead head = BackboneHead.Plain, int height = 112, int width = 112)
    {
        ArgumentNullException.ThrowIfNull(backbone);
        if (head == BackboneHead.Grid && !backbone.IsGrid)
            throw new ArgumentException("The backbone has no grid layer.", nameof(head));
        long macs = 0;
        int h = height, w = width;
        var heads = new List<(string Name, nn.Module Module)>();
        foreach (var (name, child) in backbone.named_children())
        {
            if (name == GridHeadChild || PlainHeadChildren.Contains(name)) { heads.Add((name, child)); continue; }
            macs += Count(child, ref h, ref w);
        }
        foreach (var (name, child) in heads)
        {
            var isGrid = name == GridHeadChild;
            if ((head == BackboneHead.Grid && isGrid) || (head == BackboneHead.Plain && !isGrid))
            {
                // heads branch from the trunk's map; the plain head's parts run in sequence
                if (isGrid) { int gh = h, gw = w; macs += Count(child, ref gh, ref gw); }
                else macs += Count(child, ref h, ref w);
            }
        }
        return macs;
    }

    /// <summary>MACs of a module applied to an [*, *, h, w] input; h and w are updated to the output size.</summary>
    private static long Count(nn.Module m, ref int h, ref int w)
    {
        switch (m)
        {
            case Conv2d c:
            {
                var oh = OutSize(h, c.kernel_size[0], c.stride[0], c.padding?[0] ?? 0, c.dilation[0]);
                var ow = OutSize(w, c.kernel_size[1], c.stride[1], c.padding?[1] ?? 0, c.dilation[1]);
                h = oh; w = ow;
                return c.out_channels * (long)oh * ow * (c.in_channels / c.groups) * c.kernel_size[0] * c.kernel_size[1];
            }
            case Linear l:
                h = 1; w = 1;
                return l.in_features * l.out_features;
            case MaxPool2d p:
                h = OutSize(h, p.kernel_size[0], p.stride?[0] ?? p.kernel_size[0], p.padding?[0] ?? 0, 1);
                w = OutSize(w, p.kernel_size[1], p.stride?[1] ?? p.kernel_size[1], p.padding?[1] ?? 0, 1);
                return 0;
            case SqueezeExcitation se:
            {
                // the gate runs on the pooled 1x1 map; the block's output keeps the input size
                int sh = 1, sw = 1;
                long total = 0;
                foreach (var (_, child) in se.named_children())
                    if (child is Conv2d) total += Count(child, ref sh, ref sw);
                return total;
            }
            case IResNetUnit unit:
            {
                long total = 0;
                int rh = h, rw = w;
                foreach (var (name, child) in unit.named_children())
                {
                    int bh = h, bw = w;
                    total += Count(child, ref bh, ref bw);
                    if (name == "res_layer") { rh = bh; rw = bw; }
                }
                h = rh; w = rw;
                return total;
            }
            default:
            {
                long total = 0;
                foreach (var (_, child) in m.named_children()) total += Count(child, ref h, ref w);
                return total;
            }
        }
    }

    private static int OutSize(int size, long kernel, long stride, long padding, long dilation) =>
        (int)((size + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1);
}
