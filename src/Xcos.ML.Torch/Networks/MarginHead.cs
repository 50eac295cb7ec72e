using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Networks;

/// <summary>
/// Base of the margin heads: parameter <c>kernel</c> [embeddingSize, classes], normalised per class (column)
/// inside the forward; cos(theta) = embedding . kernel_j / ||kernel_j||, clamped to [-1, 1].
/// Embeddings are expected L2-normalised.
/// </summary>
public abstract class MarginHead : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly Parameter kernel;

    /// <summary>A head for <paramref name="classes"/> identities over <paramref name="embeddingSize"/>-d embeddings, with logit scale s and margin m.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive.</exception>
    protected MarginHead(string name, int embeddingSize, int classes, double scale, double margin) : base(name)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(embeddingSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classes);
        EmbeddingSize = embeddingSize; Classes = classes; Scale = scale; Margin = margin;
        // uniform(-1, 1) with unit columns, as the original's renorm_(2, 1, 1e-5).mul_(1e5)
        using (no_grad())
        {
            var w = empty(embeddingSize, classes).uniform_(-1, 1);
            w.div_(w.norm(0, true, 2));
            kernel = new Parameter(w);
        }
        register_parameter("kernel", kernel);
    }

    /// <summary>The class weight matrix [embeddingSize, classes].</summary>
    public Parameter Kernel => kernel;

    /// <summary>Length of the (L2-normalised) embeddings the head takes.</summary>
    public int EmbeddingSize { get; }

    /// <summary>Training identities: one logit each.</summary>
    public int Classes { get; }

    /// <summary>Logit scale s: the margin-adjusted cosines are multiplied by it before the softmax.</summary>
    public double Scale { get; }

    /// <summary>Margin m: an angle in radians for ArcFace, a cosine offset for CosFace.</summary>
    public double Margin { get; }

    /// <summary>cos(theta) [B, classes] of L2-normalised embeddings [B, embeddingSize] against the normalised kernel columns.</summary>
    public Tensor Cosine(Tensor embeddings)
    {
        using var scope = NewDisposeScope();
        var kn = kernel / kernel.norm(0, true, 2);
        return embeddings.matmul(kn).clamp(-1, 1).MoveToOuterDisposeScope();
    }

    /// <summary>Scaled logits with the margin applied at each sample's own class.</summary>
    public override Tensor forward(Tensor embeddings, Tensor labels)
    {
        using var scope = NewDisposeScope();
        var cos = Cosine(embeddings);
        // margin only on the true-class column: same values as the original's indexed assignment,
        // and no sqrt(1 - cos^2) on other classes (its gradient is infinite at |cos| = 1)
        var index = labels.to(ScalarType.Int64).reshape(-1, 1);
        var target = ApplyMargin(cos.gather(1, index));
        return (cos.scatter(1, index, target) * Scale).MoveToOuterDisposeScope();
    }

    /// <summary>The logit (before scaling) of the true class as a function of cos(theta), elementwise.</summary>
    protected abstract Tensor ApplyMargin(Tensor cos);
}
