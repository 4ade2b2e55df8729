using Tiaki.Agent.Core.Updates;

namespace Tiaki.Agent.Core.Tests.Updates;

public sealed class TagSelectorTests
{
    private static readonly string[] NginxTags =
    [
        "latest", "stable", "alpine", "1", "1.25", "1.26", "1.27", "1.25.3", "1.25.4", "1.26.0", "1.27.2", "2.0.0",
        "1.25-alpine", "1.26-alpine", "1.27-alpine3.20", "1.25.3-alpine", "1.25.5-alpine", "1.26.1-alpine",
        "1.28.0-rc.1", "1.27.3-rc1", "v1.25.9", "1.25.3-bookworm", "1.26.0-bookworm", "mainline", "1.29",
    ];

    [Theory]
    [InlineData("1.25.3", "major", null, null, "2.0.0")]
    [InlineData("1.25.3", "minor", null, null, "1.27.2")]
    [InlineData("1.25.3", "patch", null, null, "1.25.4")]
    [InlineData("1.25", "major", null, null, "1.29")]
    [InlineData("1.25-alpine", "major", null, null, "1.26-alpine")]
    [InlineData("1.25.3-alpine", "major", null, null, "1.26.1-alpine")]
    [InlineData("1.25.3-alpine", "patch", null, null, "1.25.5-alpine")]
    [InlineData("1.25.3-bookworm", "major", null, null, "1.26.0-bookworm")]
    [InlineData("v1.25.3", "major", null, null, "v1.25.9")]
    [InlineData("1", "major", null, null, null)]
    [InlineData("1.25.3", "major", null, @"^2\.", "1.27.2")]
    [InlineData("1.25.3", "major", @"^1\.26\.", null, "1.26.0")]
    [InlineData("1.27.2", "major", null, null, "2.0.0")]
    [InlineData("1.27.2", "minor", null, null, null)]
    [InlineData("1.27.3-rc1", "major", null, null, "2.0.0")]
    [InlineData("1.28.0-rc.1", "minor", null, null, null)]
    [InlineData("2.0.0", "major", null, null, null)]
    public void Newest_NginxLikeTags_PicksSameShapeWithinPolicy(string current, string maxBump, string? include, string? exclude, string? expected)
    {
        var policy = new UpdatePolicy(true, UpdatePolicy.ParseBump(maxBump)!.Value,
            include is null ? null : UpdatePolicy.TryCompile(include, out _), exclude is null ? null : UpdatePolicy.TryCompile(exclude, out _));

        var newest = TagSelector.Newest(TagVersion.TryParse(current)!, NginxTags, policy);

        newest?.Version.Tag.ShouldBe(expected);
        if (expected is null) newest.ShouldBeNull();
    }

    [Fact]
    public void Newest_PreReleaseCurrent_MovesToNewerPreReleaseOrRelease()
    {
        var newest = TagSelector.Newest(TagVersion.TryParse("3.0.0-beta.1")!, ["3.0.0-beta.2", "3.0.0-rc.1", "2.9.9"], UpdatePolicy.Default);

        newest!.Value.Version.Tag.ShouldBe("3.0.0-rc.1");
        newest.Value.Bump.ShouldBe(UpdateBump.Patch);
    }

    [Fact]
    public void Newest_ReleaseCurrent_NeverPicksPreRelease()
    {
        TagSelector.Newest(TagVersion.TryParse("3.0.0")!, ["3.0.1-rc.1", "3.1.0-beta"], UpdatePolicy.Default).ShouldBeNull();
    }
}

public sealed class UpdatePolicyTests
{
    [Theory]
    [InlineData("tiaki.update", "minor")]
    [InlineData("tiaki.dev/update", "minor")]
    public void FromLabels_DockerLabelOrKubernetesAnnotation_ReadsMaxBump(string key, string value)
    {
        var (policy, error) = UpdatePolicy.FromLabels(new Dictionary<string, string> { [key] = value });

        error.ShouldBeNull();
        policy!.MaxBump.ShouldBe(UpdateBump.Minor);
    }

    [Theory]
    [InlineData("tiaki.enable", "false")]
    [InlineData("tiaki.dev/enable", "False")]
    public void FromLabels_EnableFalse_Disables(string key, string value) =>
        UpdatePolicy.FromLabels(new Dictionary<string, string> { [key] = value }).Policy!.Enabled.ShouldBeFalse();

    [Fact]
    public void FromLabels_BadValues_ListsEveryBadLabelByName()
    {
        var (policy, error) = UpdatePolicy.FromLabels(new Dictionary<string, string>
        {
            ["tiaki.update"] = "huge",
            ["tiaki.tag.include"] = "([",
            ["tiaki.dev/enable"] = "maybe",
        });

        policy.ShouldBeNull();
        error!.ShouldContain("tiaki.update=\"huge\"");
        error!.ShouldContain("tiaki.tag.include");
        error!.ShouldContain("tiaki.dev/enable");
    }

    [Theory]
    [InlineData("https://github.com/acme/app", "https://github.com/acme/app/releases")]
    [InlineData("git+https://github.com/acme/app.git", "https://github.com/acme/app/releases")]
    [InlineData("https://gitlab.com/group/proj", "https://gitlab.com/group/proj/releases")]
    [InlineData("https://example.org/app/changes", "https://example.org/app/changes")]
    [InlineData("git@github.com:acme/app.git", null)]
    public void Changelog_SourceLabel_LinksToReleases(string source, string? expected) =>
        ScanMemo.Changelog(new Dictionary<string, string> { ["org.opencontainers.image.source"] = source }).ShouldBe(expected);
}
