using Xcos.ML.Images;
using Xcos.ML.Onnx;

namespace Xcos.ML.FaceModels;

/// <summary>int8 quantization of a face-embedding ONNX model, calibrated on aligned faces.</summary>
public static class FaceModelQuantizer
{
    /// <summary>
    /// Mean fp32/int8 embedding cosine asked of the calibration faces by default: above the 0.995 required on held-out
    /// faces, which come out a little lower than the faces the scales were fitted on.
    /// </summary>
    public const double DefaultTargetCosine = 0.997;

    /// <summary>The synthetic calibration faces of our own models: image 0 of identities 0..count-1, seed 0, 112x112.</summary>
    public static IReadOnlyList<RgbImage> SyntheticFaces(int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var gen = new Data.Synthetic.SyntheticFaces(new Data.Synthetic.SyntheticFacesOptions { Identities = count, ImageSize = 112 });
        return Enumerable.Range(0, count).Select(i => gen.Generate(i, 0)).Select(f => new RgbImage(f.Size, f.Size, f.Rgb)).ToList();
    }

    /// <summary>How <see cref="SyntheticFaces"/> is named in a model's metadata.</summary>
    public static string SyntheticDescription(int count) => $"{count} synthetic faces (seed 0, identities 0-{count - 1}, image 0 of each)";

    /// <summary>Calibration batches of <paramref name="batchSize"/> faces each, as the model's input tensor.</summary>
    /// <exception cref="ArgumentException">No faces, or a face that is not square of one size.</exception>
    public static IReadOnlyList<IReadOnlyDictionary<string, (float[] Data, long[] Shape)>> Feeds(IReadOnlyList<RgbImage> faces, string inputName,
        FaceTensorOptions tensor, int batchSize = 4)
    {
        ArgumentNullException.ThrowIfNull(faces);
        if (faces.Count == 0) throw new ArgumentException("no calibration faces", nameof(faces));
        int side = faces[0].Width, per = 3 * side * side;
        var feeds = new List<IReadOnlyDictionary<string, (float[], long[])>>();
        for (int start = 0; start < faces.Count; start += batchSize)
        {
            int n = Math.Min(batchSize, faces.Count - start);
            var data = new float[n * per];
            for (int i = 0; i < n; i++)
            {
                var f = faces[start + i];
                if (f.Width != side || f.Height != side) throw new ArgumentException($"calibration face {start + i} is {f.Width}x{f.Height}; expected {side}x{side} like face 0", nameof(faces));
                FaceTensor.ToChw(f, data.AsSpan(i * per, per), tensor);
            }
            feeds.Add(new Dictionary<string, (float[], long[])>(StringComparer.Ordinal) { [inputName] = (data, [n, 3, side, side]) });
        }
        return feeds;
    }

    /// <summary>
    /// Quantizes the model at <paramref name="onnxPath"/> as the descriptor reads it, calibrated on aligned
    /// <paramref name="faces"/>; <paramref name="description"/> names them in the model's metadata.
    /// A model whose batch dim is fixed is calibrated face by face. Without <paramref name="options"/>, layers are left in
    /// float until the calibration faces keep a mean cosine of <see cref="DefaultTargetCosine"/>, and PRelu stays float.
    /// </summary>
    public static QuantizationResult Quantize(FaceModelDescriptor descriptor, string onnxPath, IReadOnlyList<RgbImage> faces, string description,
        OnnxQuantizerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        var model = OnnxModelFile.Load(onnxPath);
        string input = descriptor.InputName ?? (model.InputNames.Count > 0 ? model.InputNames[0] : null)
            ?? throw new InvalidDataException($"{onnxPath}: the model has no input");
        var dims = model.ListValues().FirstOrDefault(v => v.Name == input)?.Shape;
        int batch = dims is { Length: > 0 } && dims[0] > 0 ? (int)dims[0] : 4;
        // PRelu stays in float between Q/DQ pairs for face models: on fr_feature the integer form (OnnxQuantizerOptions.IntegerPRelu)
        // is 1.2x faster at batch 32 but sits at the edge of the 0.002 AUC tolerance (celeb-faces 0.0025 below fp32,
        // synthetic identities 0.0018 above; the float form 0.0011 below on both).
        options ??= new OnnxQuantizerOptions { TargetCosine = DefaultTargetCosine, IntegerPRelu = false };
        options.CalibrationDescription = description;
        try { return OnnxQuantizer.Quantize(model.Model, Feeds(faces, input, descriptor.TensorOptions(), batch), options); }
        catch (Exception e) when (e is NotSupportedException or InvalidDataException)
        {
            throw new InvalidDataException($"{onnxPath}: cannot quantize: {e.Message}", e);
        }
    }
}
