namespace Xcos.ML.FaceModels;

/// <summary>One face found by <see cref="FaceDetector"/>, in the source image's pixel coordinates.</summary>
/// <param name="Box">Square face box in source pixels (the detector's box made square on its height, clipped to the image).</param>
/// <param name="Score">Face confidence (softmax probability of the face class), 0..1.</param>
/// <param name="Landmarks5">Left eye, right eye, nose tip, left and right mouth corner, source pixels (image left/right).</param>
/// <param name="Landmarks68">The 68 iBUG points the five come from, flat x,y (136 values), source pixels.</param>
public sealed record DetectedFace(FaceBox Box, float Score, (double X, double Y)[] Landmarks5, float[] Landmarks68);
