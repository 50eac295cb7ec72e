using System.Text.Json.Serialization;

namespace Xcos.ML.Gallery;

/// <summary>How <see cref="HnswVectorIndex"/> stores vectors (and computes the graph's distances).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<HnswQuantization>))]
public enum HnswQuantization
{
    /// <summary>32-bit floats: distances as exact as the input.</summary>
    Float32,
    /// <summary>bfloat16 (8 significant bits): half the memory and memory traffic; cosines off by about 1e-3.</summary>
    BFloat16,
    /// <summary>IEEE half precision (11 significant bits): half the memory.</summary>
    Float16,
}
