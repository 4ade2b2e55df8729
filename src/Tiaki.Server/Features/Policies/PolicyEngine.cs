using Cronos;
using Tiaki.Contracts;
using Tiaki.Server.Data;

namespace Tiaki.Server.Features.Policies;

internal static class Bumps
{
    public const string Digest = "digest";
    public const string Patch = "patch";
    public const string Minor = "minor";
    public const string Major = "major";

    public static readonly IReadOnlyList<string> All = [Digest, Patch, Minor, Major];

    /// <summary>digest &lt; patch &lt; minor &lt; major; null for anything else.</summary>
    public static int? Rank(string? bump) => bump switch
    {
        Digest => 0,
        Patch => 1,
        Minor => 2,
        Major => 3,
        _ => null,
    };
}

/// <summary>The pure part of policies: which one applies, and what the maintenance window says.</summary>
internal static class PolicyEngine
{
    /// <summary>
    /// The most specific matching policy: one naming the agent beats one for every agent; then the pattern with
    /// more literal characters (so <c>ghcr.io/acme/api</c> beats <c>ghcr.io/acme/*</c> beats <c>*</c>); then the oldest.
    /// </summary>
    public static PolicyEntity? Match(IEnumerable<PolicyEntity> policies, string agentId, string image) =>
        policies
            .Where(p => (p.AgentId is null || p.AgentId == agentId) && Matches(p.ImagePattern, image))
            .OrderByDescending(p => p.AgentId is not null)
            .ThenByDescending(p => p.ImagePattern.Count(c => c is not ('*' or '?')))
            .ThenBy(p => p.CreatedAt)
            .ThenBy(p => p.Id, StringComparer.Ordinal)
            .FirstOrDefault();

    /// <summary>
    /// Docker Hub images go by several names (<c>nginx</c>, <c>library/nginx</c>, <c>docker.io/library/nginx</c>); a pattern
    /// written in any of these forms matches all of them.
    /// </summary>
    public static bool Matches(string pattern, string image) => Names(image).Any(n => Glob.IsMatch(pattern, n));

    private static IEnumerable<string> Names(string image)
    {
        yield return image;
        var slash = image.IndexOf('/', StringComparison.Ordinal);
        var first = slash < 0 ? "" : image[..slash];
        var hasRegistry = first.Contains('.', StringComparison.Ordinal) || first.Contains(':', StringComparison.Ordinal) || first == "localhost";
        string path;
        if (!hasRegistry)
        {
            path = slash < 0 ? "library/" + image : image;
        }
        else if (first is "docker.io" or "index.docker.io" or "registry-1.docker.io")
        {
            path = image[(slash + 1)..];
        }
        else
        {
            yield break;
        }

        // Every spelling of a Docker Hub name: docker.io/library/nginx, library/nginx, nginx.
        yield return "docker.io/" + path;
        yield return path;
        if (path.StartsWith("library/", StringComparison.Ordinal))
        {
            yield return path["library/".Length..];
        }
    }

    /// <summary>The bump of an update; a new digest under the same tag counts as <c>digest</c>, anything unknown as null.</summary>
    public static string? BumpOf(UpdateEntity u) =>
        u.Bump is { } b && Bumps.Rank(b) is not null ? b : string.Equals(u.CurrentTag, u.LatestTag, StringComparison.Ordinal) ? Bumps.Digest : null;

    public static bool WithinMaxBump(PolicyEntity p, UpdateEntity u) =>
        Bumps.Rank(BumpOf(u)) is { } rank && Bumps.Rank(p.MaxBump) is { } max && rank <= max;

    /// <summary>Whether the window is open at <paramref name="now"/> and, if not, when it next opens (UTC cron).</summary>
    public static (bool Open, DateTimeOffset? NextOpen) Window(CronExpression cron, TimeSpan duration, DateTimeOffset now)
    {
        // An occurrence in (now - duration, now] means we are inside that opening.
        var last = cron.GetOccurrences(now - duration, now, TimeZoneInfo.Utc, fromInclusive: false, toInclusive: true).LastOrDefault();
        if (last != default)
        {
            return (true, null);
        }

        return (false, cron.GetNextOccurrence(now, TimeZoneInfo.Utc));
    }

    public static bool IntroducesCriticalOrHigh(VulnerabilityReport? report)
    {
        if (report is null)
        {
            return false;
        }

        if (report.Introduced is { } introduced)
        {
            return introduced.Critical + introduced.High > 0;
        }

        // Without a diff, compare the counts when both images were scanned.
        return report.Current is { } current &&
               (report.Candidate.Critical > current.Critical || report.Candidate.High > current.High);
    }

    public static bool TryParseCron(string value, out CronExpression? cron)
    {
        try
        {
            cron = CronExpression.Parse(value);
            return true;
        }
        catch (CronFormatException)
        {
            cron = null;
            return false;
        }
    }
}

/// <summary>Glob over image names: <c>*</c> matches any run of characters (slashes too), <c>?</c> exactly one.</summary>
internal static class Glob
{
    public static bool IsMatch(string pattern, string value)
    {
        int p = 0, v = 0, star = -1, mark = 0;
        while (v < value.Length)
        {
            if (p < pattern.Length && (pattern[p] == '?' || char.ToLowerInvariant(pattern[p]) == char.ToLowerInvariant(value[v])))
            {
                p++;
                v++;
            }
            else if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                mark = v;
            }
            else if (star >= 0)
            {
                p = star + 1;
                v = ++mark;
            }
            else
            {
                return false;
            }
        }

        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }

        return p == pattern.Length;
    }
}
