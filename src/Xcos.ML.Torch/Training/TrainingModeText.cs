using Xcos.ML.Text;

namespace Xcos.ML.Torch.Training;

/// <summary>Text forms of <see cref="TrainingMode"/> ("full", "head"), as the CLI and its JSON write them.</summary>
public static class TrainingModeText
{
    /// <summary>The mapping.</summary>
    public static readonly EnumText<TrainingMode> Map = new("training mode", ("full", TrainingMode.Full), ("head", TrainingMode.Head), ("occlusion", TrainingMode.Occlusion));

    /// <summary>The text written for <paramref name="mode"/>.</summary>
    public static string ToText(this TrainingMode mode) => Map.ToText(mode);
}
