namespace Xcos.ML.Gallery;

/// <summary>What <see cref="FaceGallery.Salvage"/> kept and where the damaged file went.</summary>
/// <param name="Faces">Live faces in the salvaged gallery.</param>
/// <param name="Removals">Removal records kept (each still removes the faces enrolled before it).</param>
/// <param name="DamagedRanges">Damaged stretches of the file skipped (each may have held one or more records).</param>
/// <param name="DamagedBytes">Bytes in those stretches.</param>
/// <param name="DamagedCopy">The damaged file, kept unchanged.</param>
public sealed record GallerySalvageReport(int Faces, int Removals, int DamagedRanges, long DamagedBytes, string DamagedCopy);
