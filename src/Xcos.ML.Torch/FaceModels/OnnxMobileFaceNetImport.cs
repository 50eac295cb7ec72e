using TorchSharp;
using TorchSharp.Modules;
using Xcos.ML.Onnx;
using Xcos.ML.Torch.Networks;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.FaceModels;

/// <summary>
/// Loads the weights of a MobileFaceNet exported with its batch norms folded (such as <c>fr_feature.onnx</c> of npm
/// <c>faceplugin-face-recognition-js</c>: 50 Conv nodes with biases, 33 PRelu, Add, Reshape) into the project's
/// <see cref="MobileFaceNet"/>, by graph order: the k-th Conv node is the k-th <c>conv</c> of the network's blocks in
/// execution order (conv1, conv2_dw, the bottlenecks' conv / conv_dw / project, conv_6_sep, conv_6_dw), the 50th
/// is <c>linear</c> (a 1x1 conv on the 1x1 map), and the k-th PRelu is the k-th <c>prelu</c>. Each conv's folded bias
/// becomes the following batch norm's bias, with weight 1, running mean 0 and running variance 1 - eps, so the
/// batch norm in eval mode adds exactly the bias (sqrt(1 - eps + eps) = 1).
/// </summary>
public static class OnnxMobileFaceNetImport
{
    /// <summary>Reads <paramref name="onnxPath"/> and copies its weights into <paramref name="network"/> (plain head included).</summary>
    /// <exception cref="InvalidDataException">The graph is not this MobileFaceNet: an operator other than Conv, PRelu,
    /// Add, Reshape (Flatten, Identity), a count or a shape that does not fit; the message names the node and the parameter.</exception>
    public static void Load(MobileFaceNet network, string onnxPath)
    {
        ArgumentNullException.ThrowIfNull(network);
        Load(network, OnnxModelFile.Load(onnxPath));
    }

    /// <summary>As <see cref="Load(MobileFaceNet, string)"/> for a parsed model.</summary>
    public static void Load(MobileFaceNet network, OnnxModelFile model)
    {
        var m = Match(network, model);
        var sd = network.state_dict();
        using var noGrad = torch.no_grad();
        for (int i = 0; i < m.Blocks.Count; i++)
        {
            var (node, w, b) = m.Convs[i];
            Copy(model, node, w, sd[m.Blocks[i] + ".conv.weight"], m.Blocks[i] + ".conv.weight");
            IdentityBatchNorm(model, node, b, sd, m.Blocks[i] + ".bn");
        }
        var (lnode, lw, lb) = m.Convs[^1];
        Copy(model, lnode, lw, sd["linear.weight"], "linear.weight");
        IdentityBatchNorm(model, lnode, lb, sd, "bn");
        for (int i = 0; i < m.Prelus.Count; i++) Copy(model, m.Prelus[i].Node, m.Prelus[i].Slope, sd[m.WithPrelu[i] + ".prelu.weight"], m.WithPrelu[i] + ".prelu.weight");
    }

    /// <summary>
    /// The inverse of <see cref="Load(MobileFaceNet, OnnxModelFile)"/> for the conv blocks: the network's weights in the graph's
    /// initializers, batch norms folded into conv weights and biases (eval-mode statistics), by initializer name.
    /// The plain head (linear, BN1d) is left out. Also returns the graph index of the first node of <paramref name="from"/>'s tail.
    /// </summary>
    public static (Dictionary<string, (float[] Values, long[] Shape)> Initializers, int FirstTailNode) Fold(MobileFaceNet network, OnnxModelFile model, MobileFaceNetStage from)
    {
        var m = Match(network, model);
        var sd = network.state_dict();
        var result = new Dictionary<string, (float[], long[])>(StringComparer.Ordinal);
        using var noGrad = torch.no_grad();
        using var scope = NewDisposeScope();
        var eps = BatchNormEpsilon;
        for (int i = 0; i < m.Blocks.Count; i++)
        {
            var (node, w, b) = m.Convs[i];
            string p = m.Blocks[i];
            var scale = sd[p + ".bn.weight"] / (sd[p + ".bn.running_var"] + eps).sqrt();
            var weight = sd[p + ".conv.weight"] * scale.reshape(-1, 1, 1, 1);
            var bias = sd[p + ".bn.bias"] - sd[p + ".bn.running_mean"] * scale;
            result[w] = (weight.contiguous().data<float>().ToArray(), weight.shape);
            if (b is null) throw new InvalidDataException($"{model.Source}: node {node} has no bias to fold the batch norm into");
            result[b] = (bias.contiguous().data<float>().ToArray(), model.ReadInitializer(b).Shape);
        }
        for (int i = 0; i < m.Prelus.Count; i++)
            result[m.Prelus[i].Slope] = (sd[m.WithPrelu[i] + ".prelu.weight"].contiguous().data<float>().ToArray(), model.ReadInitializer(m.Prelus[i].Slope).Shape);
        var prefixes = MobileFaceNet.TailModules(from);
        int firstConv = m.Blocks.FindIndex(b => prefixes.Any(x => (b + ".").StartsWith(x, StringComparison.Ordinal)));
        string firstWeight = m.Convs[firstConv].Weight;
        int firstNode = model.Graph.Node.Select((n, i) => (n, i)).First(x => x.n.OpType == "Conv" && x.n.Input[1] == firstWeight).i;
        return (result, firstNode);
    }

    private sealed record Matched(List<(string Node, string Weight, string? Bias)> Convs, List<(string Node, string Slope)> Prelus, List<string> Blocks, List<string> WithPrelu);

    private static Matched Match(MobileFaceNet network, OnnxModelFile model)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(model);
        var convs = new List<(string Node, string Weight, string? Bias)>();
        var prelus = new List<(string Node, string Slope)>();
        foreach (var n in model.Graph.Node)
        {
            switch (n.OpType)
            {
                case "Conv": convs.Add((Label(n), n.Input[1], n.Input.Count > 2 ? n.Input[2] : null)); break;
                case "PRelu": prelus.Add((Label(n), n.Input[1])); break;
                case "Add" or "Reshape" or "Flatten" or "Identity": break;
                default: throw new InvalidDataException($"{model.Source}: node {Label(n)} is a {n.OpType}; a folded MobileFaceNet has only Conv, PRelu, Add and Reshape");
            }
        }
        var keys = network.state_dict().Keys.ToHashSet(StringComparer.Ordinal);
        // every ConvBlock has a child conv (its key ends in ".conv.weight" one level below the block); state_dict keeps execution order
        var blocks = network.state_dict().Keys.Where(k => k.EndsWith(".conv.weight", StringComparison.Ordinal) && keys.Contains(k[..^".conv.weight".Length] + ".bn.bias"))
            .Select(k => k[..^".conv.weight".Length]).ToList();
        var withPrelu = blocks.Where(b => keys.Contains(b + ".prelu.weight")).ToList();
        if (convs.Count != blocks.Count + 1)
            throw new InvalidDataException($"{model.Source}: {convs.Count} Conv nodes; this MobileFaceNet has {blocks.Count} conv blocks and the linear layer ({blocks.Count + 1})");
        if (prelus.Count != withPrelu.Count)
            throw new InvalidDataException($"{model.Source}: {prelus.Count} PRelu nodes; this MobileFaceNet has {withPrelu.Count} PReLU layers");
        return new Matched(convs, prelus, blocks, withPrelu);
    }

    private static string Label(Onnx.Proto.NodeProto n) => string.IsNullOrEmpty(n.Name) ? $"'{n.Output[0]}' ({n.OpType})" : $"'{n.Name}'";

    // Values are copied when the element count matches (a linear weight [512,512] is a conv weight [512,512,1,1],
    // a PRelu slope [C,1,1] is [C]); the dims of conv weights must match exactly.
    private static void Copy(OnnxModelFile model, string node, string initializer, Tensor target, string parameter)
    {
        var (data, shape) = model.ReadInitializer(initializer);
        bool conv = target.dim() == 4;
        if (data.Length != target.numel() || (conv && !shape.SequenceEqual(target.shape)))
            throw new InvalidDataException($"{model.Source}: node {node}: '{initializer}' has shape [{string.Join(",", shape)}]; {parameter} is [{string.Join(",", target.shape)}]");
        target.copy_(torch.tensor(data, target.shape));
    }

    private static void IdentityBatchNorm(OnnxModelFile model, string node, string? bias, IDictionary<string, Tensor> sd, string bn)
    {
        var b = sd[bn + ".bias"];
        if (bias is null) b.zero_();
        else Copy(model, node, bias, b, bn + ".bias");
        sd[bn + ".weight"].fill_(1);
        sd[bn + ".running_mean"].zero_();
        sd[bn + ".running_var"].fill_(1 - BatchNormEpsilon);
    }

    /// <summary>Epsilon of the network's batch norms (TorchSharp's default).</summary>
    public const double BatchNormEpsilon = 1e-5;
}
