using Tiaki.Agent.Core.Updates;

namespace Tiaki.Agent.Core.Tests.Updates;

public sealed class TagVersionTests
{
    [Theory]
    [InlineData("1.25.3", "", 3, null, "")]
    [InlineData("v1.2", "v", 2, null, "")]
    [InlineData("1.25-alpine", "", 2, null, "-alpine")]
    [InlineData("1.25.3-alpine3.19", "", 3, null, "-alpine3.19")]
    [InlineData("2.0.0-rc.1", "", 3, "rc.1", "")]
    [InlineData("2.0.0-beta2-alpine", "", 3, "beta2", "-alpine")]
    [InlineData("16-bookworm", "", 1, null, "-bookworm")]
    [InlineData("bookworm-20240101", "bookworm-", 1, null, "")]
    [InlineData("1.2.3.4", "", 4, null, "")]
    [InlineData("1.2.3+build.5", "", 3, null, "")]
    [InlineData("release-1.4", "release-", 2, null, "")]
    public void TryParse_VersionTag_ReadsShape(string tag, string prefix, int precision, string? preRelease, string variant)
    {
        var version = TagVersion.TryParse(tag).ShouldNotBeNull();

        version.Prefix.ShouldBe(prefix);
        version.Parts.Length.ShouldBe(precision);
        version.PreRelease.ShouldBe(preRelease);
        version.Variant.ShouldBe(variant);
    }

    [Theory]
    [InlineData("latest")]
    [InlineData("stable")]
    [InlineData("main")]
    [InlineData("alpine")]
    [InlineData("1a2b3c4")]
    [InlineData("sha-1234abc")]
    [InlineData("1.2.3.4.5")]
    [InlineData("99999999999999999999999")]
    public void TryParse_NotAVersion_ReturnsNull(string tag) => TagVersion.TryParse(tag).ShouldBeNull();

    [Theory]
    [InlineData("1.2.3", "1.2.4")]
    [InlineData("1.2.9", "1.2.10")]
    [InlineData("1.9.0", "1.10.0")]
    [InlineData("1.99", "2.0")]
    [InlineData("2.0.0-alpha", "2.0.0-alpha.1")]
    [InlineData("2.0.0-alpha.1", "2.0.0-beta")]
    [InlineData("2.0.0-beta.2", "2.0.0-beta.11")]
    [InlineData("2.0.0-beta.11", "2.0.0-rc.1")]
    [InlineData("2.0.0-rc1", "2.0.0-rc2")]
    [InlineData("2.0.0-rc.9", "2.0.0")]
    [InlineData("v0.9.9", "v1.0.0")]
    [InlineData("2023.12.31", "2024.01.01")]
    public void CompareTo_OlderThenNewer_OrdersAsVersions(string older, string newer)
    {
        var a = TagVersion.TryParse(older)!;
        var b = TagVersion.TryParse(newer)!;

        a.CompareTo(b).ShouldBeLessThan(0);
        b.CompareTo(a).ShouldBeGreaterThan(0);
    }

    [Theory]
    [InlineData("1.2.3", "2.0.0", "Major")]
    [InlineData("1.2.3", "1.3.0", "Minor")]
    [InlineData("1.2.3", "1.2.4", "Patch")]
    [InlineData("1.25", "1.26", "Minor")]
    [InlineData("7", "8", "Major")]
    [InlineData("1.2.3.4", "1.2.3.5", "Patch")]
    public void BumpTo_Newer_NamesTheHighestChangedPart(string from, string to, string bump) =>
        TagVersion.TryParse(from)!.BumpTo(TagVersion.TryParse(to)!).ToString().ShouldBe(bump);
}
