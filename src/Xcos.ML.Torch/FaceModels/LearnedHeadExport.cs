using System.Globalization;
using Google.Protobuf;
using Xcos.ML.FaceModels;
using Xcos.ML.Heads;
using Xcos.ML.Onnx;
using Xcos.ML.Onnx.Proto;
using Xcos.ML.Torch.Export;
using Xcos.ML.Torch.Networks;
using Xcos.ML.Torch.Training;

namespace Xcos.ML.Torch.FaceModels;

/// <summary>
/// Turns a head trained by <see cref="XcosHeadTrainer"/> on an ONNX face model into the ONNX file that
/// <see cref="LearnedHead"/> runs at verification time (ONNX Runtime only): the map-head model of
/// <see cref="XcosOnnxExport.BuildMapHeadModel"/> with BN folded, plus metadata naming the face model.
/// </summary>
public static class LearnedHeadExport
{
    /// <summary>
    /// Builds the map-head model from head weights (<c>backbone.conv1x1.*</c>, <c>attention.*</c>); with the face
    /// model's embedding head among them (<c>anchor.*</c>) the anchored head (<see cref="XcosOnnxExport.BuildAnchoredMapHeadModel"/>).
    /// </summary>
    /// <param name="weights">Head weights under xCos checkpoint names.</param>
    /// <param name="faceModel">Descriptor name of the face model (stored as <see cref="LearnedHead.FaceModelKey"/>).</param>
    /// <param name="featureMap">Name of the map the head reads (stored as <see cref="LearnedHead.FeatureMapKey"/>).</param>
    /// <param name="temperature">Softmax temperature of the attention (the trainer's <c>Temperature</c>).</param>
    /// <param name="training">Free text about the training data (stored as <see cref="LearnedHead.TrainingKey"/>), or null.</param>
    /// <param name="cosineWeight">The face model's cosine's share in the score (<see cref="XcosOnnxExportOptions.CosineWeight"/>) and where it was chosen (stored as <see cref="LearnedHead.CosineWeightKey"/>); null: none.</param>
    /// <param name="gate">The cosine's share per pair (<see cref="CosineGateOnnx.WithCosineGate"/>; anchored heads only) and where it was chosen (stored as <see cref="LearnedHead.CosineGateKey"/>); null: none. Not with <paramref name="cosineWeight"/>.</param>
    /// <exception cref="KeyNotFoundException">A head weight is missing (the message names it).</exception>
    public static ModelProto Build(IReadOnlyDictionary<string, WeightTensor> weights, string faceModel, string featureMap, double temperature = 1.0, string? training = null,
        (double Weight, string Source)? cosineWeight = null, (CosineGate Gate, string Source)? gate = null)
    {
        if (cosineWeight is not null && gate is not null) throw new ArgumentException("a head takes a fixed share of the cosine or a gated one, not both");
        ArgumentNullException.ThrowIfNull(weights);
        // weights of the model's own embedding head (anchor.*) make it the anchored head of the two-branch model
        bool anchored = weights.ContainsKey("anchor.linear.weight");
        var options = new XcosOnnxExportOptions { Temperature = (float)temperature, CosineWeight = cosineWeight?.Weight ?? 0 };
        var model = anchored ? XcosOnnxExport.BuildAnchoredMapHeadModel(weights, options) : XcosOnnxExport.BuildMapHeadModel(weights, options);
        if (gate is { } gt) model = CosineGateOnnx.WithCosineGate(model, gt.Gate);
        void Meta(string k, string v) => model.MetadataProps.Add(new StringStringEntryProto { Key = k, Value = v });
        Meta(LearnedHead.FaceModelKey, faceModel);
        Meta(LearnedHead.FeatureMapKey, featureMap);
        Meta(LearnedHead.FormKey, anchored ? "anchored" : "patch_cosine");
        if (training is not null) Meta(LearnedHead.TrainingKey, training);
        if (gate is { } gs) Meta(LearnedHead.CosineGateKey, $"{gs.Gate}: {gs.Source}");
        if (cosineWeight is { } cw) Meta(LearnedHead.CosineWeightKey, string.Create(CultureInfo.InvariantCulture, $"{cw.Weight:R}: {cw.Source}"));
        return model;
    }

    /// <summary>Writes the head of <paramref name="head"/> (live weights) for <paramref name="source"/>'s model to <paramref name="path"/>.</summary>
    public static void Save(XcosGridHead head, OnnxFeatureMapSource source, string path, double temperature = 1.0, string? training = null)
    {
        ArgumentNullException.ThrowIfNull(head);
        ArgumentNullException.ThrowIfNull(source);
        var w = TorchOnnxExport.ToWeights(head.XcosStateDict());
        Write(Build(w, source.Descriptor.Name, source.Embedder.FeatureMapName, temperature, training), path);
    }

    /// <summary>
    /// Writes the head stored in a weights file of the trainer (<c>best.pth</c> / <c>last.pth</c>) for
    /// <paramref name="source"/>'s model to <paramref name="path"/>.
    /// </summary>
    /// <exception cref="InvalidDataException">The file is not a readable checkpoint.</exception>
    /// <exception cref="KeyNotFoundException">It holds no head weights (the message names the first missing one).</exception>
    public static void SaveFromWeightsFile(string weightsFile, OnnxFeatureMapSource source, string path, double temperature = 1.0, string? training = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        var w = TorchOnnxExport.LoadCheckpointWeights(weightsFile);
        ModelProto model;
        try { model = Build(w, source.Descriptor.Name, source.Embedder.FeatureMapName, temperature, training); }
        catch (KeyNotFoundException e) { throw new KeyNotFoundException($"{weightsFile}: not a head trained by `xcos train --mode head` ({e.Message})", e); }
        Write(model, path);
    }

    /// <summary>One line describing a training run for the file's metadata.</summary>
    public static string Describe(string data, int images, int epochs, double loss) =>
        string.Create(CultureInfo.InvariantCulture, $"head-only xCos, MSE to the model's cosine; data {data} ({images} images); {epochs} epochs; final loss {loss:G4}");

    private static void Write(ModelProto model, string path)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        File.WriteAllBytes(path, model.ToByteArray());
    }
}
