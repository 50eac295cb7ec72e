using Xcos.ML.Explain;
using Xcos.ML.Text;
using Xunit;

namespace Xcos.ML.Tests;

public sealed class EnumTextTests
{
    [Fact]
    public void WritesTheFirstTextAndParsesEveryText()
    {
        Assert.Equal("mean", PatchFill.MeanColor.ToText());
        Assert.Equal("blur", PatchFill.Blur.ToText());
        Assert.Equal(PatchFill.MeanColor, PatchFillText.Map.Parse("mean-color"));
        Assert.Equal(PatchFill.Blur, PatchFillText.Map.Parse("blur"));
        Assert.Equal(["mean", "blur"], PatchFillText.Map.Texts);
    }

    [Fact]
    public void UnknownTextIsAFormatErrorListingTheChoices()
    {
        var e = Assert.Throws<FormatException>(() => PatchFillText.Map.Parse("Blur"));
        Assert.Equal("patch fill 'Blur': expected mean or blur", e.Message);
        Assert.False(PatchFillText.Map.TryParse(null, out _));
    }

    [Fact]
    public void AValueWithoutATextAndATextGivenTwiceAreRefused()
    {
        var map = new EnumText<DayOfWeek>("day", ("mon", DayOfWeek.Monday));
        Assert.Throws<ArgumentOutOfRangeException>(() => map.ToText(DayOfWeek.Sunday));
        Assert.Throws<ArgumentException>(() => new EnumText<DayOfWeek>("day", ("mon", DayOfWeek.Monday), ("mon", DayOfWeek.Tuesday)));
        Assert.Equal("mon", new EnumText<DayOfWeek>("day", ("mon", DayOfWeek.Monday)).Expected);
    }
}
