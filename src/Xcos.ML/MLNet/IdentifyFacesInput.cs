using Microsoft.ML.Data;

namespace Xcos.ML.MLNet;

/// <summary>Row read by the identification stage: the probe photo.</summary>
public sealed class IdentifyFacesInput
{
    /// <summary>The probe photo (from <c>mlContext.Transforms.LoadImages</c>).</summary>
    [ColumnName("Image")]
    public MLImage? Image { get; set; }
}
