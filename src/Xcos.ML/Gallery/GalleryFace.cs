namespace Xcos.ML.Gallery;

/// <summary>One enrolled face.</summary>
/// <param name="Id">The gallery's id of the face (unique, never reused within one file).</param>
/// <param name="Identity">Who it is.</param>
/// <param name="SourceFile">The photo it came from.</param>
/// <param name="Embedding">The model's embedding as enrolled (not normalised).</param>
/// <param name="Code">The face code the pair head reads.</param>
public sealed record GalleryFace(long Id, string Identity, string SourceFile, float[] Embedding, float[] Code);
