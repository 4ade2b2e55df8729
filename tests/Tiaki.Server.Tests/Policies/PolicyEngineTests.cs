using Cronos;
using Tiaki.Server.Data;
using Tiaki.Server.Features.Policies;

namespace Tiaki.Server.Tests.Policies;

public sealed class PolicyEngineTests
{
    private static readonly CronExpression Saturday2am = CronExpression.Parse("0 2 * * 6");
    private static readonly DateTimeOffset Opening = DateTimeOffset.Parse("2026-12-05T02:00:00Z"); // a Saturday

    [Theory]
    [InlineData("2026-12-05T02:00:00Z", true)]   // the opening instant itself
    [InlineData("2026-12-05T03:29:59Z", true)]
    [InlineData("2026-12-05T03:30:00Z", false)]  // duration is half-open
    [InlineData("2026-12-05T01:59:59Z", false)]
    public void Window_AroundAn90MinuteOpening_OpenOnlyInside(string at, bool open)
    {
        var (isOpen, next) = PolicyEngine.Window(Saturday2am, TimeSpan.FromMinutes(90), DateTimeOffset.Parse(at));

        isOpen.ShouldBe(open);
        if (!open)
        {
            next.ShouldNotBeNull().ShouldBeGreaterThan(DateTimeOffset.Parse(at));
        }
    }

    [Fact]
    public void Window_AfterItCloses_NextOpeningIsAWeekLater()
    {
        var (_, next) = PolicyEngine.Window(Saturday2am, TimeSpan.FromMinutes(90), Opening.AddHours(2));

        next.ShouldBe(Opening.AddDays(7));
    }

    [Theory]
    [InlineData("ghcr.io/acme/*", "ghcr.io/acme/api", true)]
    [InlineData("ghcr.io/acme/*", "ghcr.io/other/api", false)]
    [InlineData("*/api", "ghcr.io/acme/api", true)]
    [InlineData("ghcr.io/acme/ap?", "ghcr.io/acme/api", true)]
    [InlineData("ghcr.io/acme/ap?", "ghcr.io/acme/apis", false)]
    [InlineData("nginx", "docker.io/library/nginx", true)]
    [InlineData("library/nginx", "nginx", true)]
    [InlineData("docker.io/library/*", "nginx", true)]
    [InlineData("nginx", "ghcr.io/library/nginx", false)]
    [InlineData("bitnami/*", "docker.io/bitnami/redis", true)]
    public void Matches_GlobPatterns_MatchAsExpected(string pattern, string image, bool expected) =>
        PolicyEngine.Matches(pattern, image).ShouldBe(expected);

    [Theory]
    [InlineData("patch", "patch", true)]
    [InlineData("patch", "minor", false)]
    [InlineData("minor", "digest", true)]
    [InlineData("major", null, false)] // unknown bump: never automatic
    public void WithinMaxBump_ByRank(string max, string? bump, bool expected)
    {
        var policy = new PolicyEntity { Id = "p", Name = "p", ImagePattern = "*", MaxBump = max };
        var update = new UpdateEntity
        {
            Id = "u", AgentId = "a", ContainerId = "c", CurrentTag = "1.0.0", LatestTag = "1.0.1", LatestDigest = "sha256:x", Status = "pending", Bump = bump,
        };

        PolicyEngine.WithinMaxBump(policy, update).ShouldBe(expected);
    }
}
