using Xcos.ML.FaceModels;
using Xcos.ML.Heads;

namespace Xcos.ML.MLNet;

/// <summary>
/// Options of <see cref="XcosPipeline.Create(Microsoft.ML.TransformsCatalog, FacePhotoPipelineOptions)"/>: a frozen ONNX
/// face model verifying raw photos. The photos are read, their primary faces detected and aligned, embedded by
/// <see cref="FaceModel"/>, and its own cosine decides while xCos explains.
/// </summary>
public sealed class FacePhotoPipelineOptions : FacePairPipelineOptions
{
    /// <summary>The face model, e.g. <see cref="FaceModelDescriptor.FrFeature"/> or <see cref="FaceModelDescriptor.Load"/>.</summary>
    public required FaceModelDescriptor FaceModel { get; set; }

    /// <summary>Folder of the descriptor's data files (calibration means, learned head); null: next to the shipped descriptor.</summary>
    public string? FaceModelDirectory { get; set; }

    /// <summary>Folder holding fr_detect.onnx, fr_landmark.onnx and the face model; null: <see cref="ModelStore.ResolveDirectory"/>.</summary>
    public string? ModelsDirectory { get; set; }

    /// <summary>The xCos that explains <see cref="FaceModel"/>. Default <see cref="XcosVariant.Weights"/>.</summary>
    public XcosVariant Xcos { get; set; } = XcosVariant.Weights;

    /// <summary>Learned head for <see cref="XcosVariant.Learned"/>; null takes the one next to the descriptor.</summary>
    public string? LearnedHeadPath { get; set; }

    /// <summary>
    /// Most photos whose per-photo work (read, detect, align, embed) a fitted pipeline keeps in memory, shared by Fit's
    /// threshold pass, every later Transform and every pass over a lazy result, so a photo in many rows is processed once.
    /// Keyed by full path, file size and last-write time (a rewritten file is processed again), least recently used
    /// dropped first; about 100 KB per photo for fr_feature (its 512x7x7 map). 0 turns it off (every row processes both
    /// photos), as does <see cref="FacePairPipelineOptions.KeepIntermediateColumns"/>. A saved and loaded model processes
    /// rows one by one. Default 1024.
    /// </summary>
    public int PhotoCacheCapacity { get; set; } = 1024;
}
