using System.Text.RegularExpressions;

namespace Tiaki.Agent.Core.Updates;

/// <summary>
/// Per-container update policy from labels (<c>tiaki.update</c>, <c>tiaki.tag.include</c>,
/// <c>tiaki.tag.exclude</c>, <c>tiaki.enable</c>) or Kubernetes annotations (<c>tiaki.dev/...</c>).
/// </summary>
internal sealed record UpdatePolicy(bool Enabled, UpdateBump MaxBump, Regex? Include, Regex? Exclude)
{
    public static readonly UpdatePolicy Default = new(true, UpdateBump.Major, null, null);
    private static readonly TimeSpan RegexTimeout = TimeSpan.FromMilliseconds(200);

    public static (UpdatePolicy? Policy, string? Error) FromLabels(IReadOnlyDictionary<string, string>? labels)
    {
        if (labels is null || labels.Count == 0) return (Default, null);
        var errors = new List<string>();

        var enabled = true;
        if (Find(labels, "enable") is { } enable)
        {
            switch (enable.Value.Trim().ToLowerInvariant())
            {
                case "false" or "0" or "no" or "off": enabled = false; break;
                case "true" or "1" or "yes" or "on" or "": break;
                default: errors.Add($"{enable.Key}=\"{enable.Value}\" must be true or false"); break;
            }
        }

        var maxBump = UpdateBump.Major;
        if (Find(labels, "update") is { } update)
        {
            var bump = ParseBump(update.Value);
            if (bump is null) errors.Add($"{update.Key}=\"{update.Value}\" must be patch, minor or major");
            else maxBump = bump.Value;
        }

        var include = Compile(Find(labels, "tag.include"), errors);
        var exclude = Compile(Find(labels, "tag.exclude"), errors);
        return errors.Count > 0 ? (null, "invalid policy: " + string.Join("; ", errors)) : (new UpdatePolicy(enabled, maxBump, include, exclude), null);
    }

    public static UpdateBump? ParseBump(string value) => value.Trim().ToLowerInvariant() switch
    {
        "patch" => UpdateBump.Patch,
        "minor" => UpdateBump.Minor,
        "major" or "all" or "" => UpdateBump.Major,
        _ => null,
    };

    public static Regex? TryCompile(string pattern, out string? error)
    {
        try
        {
            error = null;
            return new Regex(pattern, RegexOptions.CultureInvariant, RegexTimeout);
        }
        catch (ArgumentException e)
        {
            error = e.Message;
            return null;
        }
    }

    public bool Allows(string tag)
    {
        try
        {
            return (Include is null || Include.IsMatch(tag)) && (Exclude is null || !Exclude.IsMatch(tag));
        }
        catch (RegexMatchTimeoutException)
        {
            return false; // a pathological pattern must not hang the scan; the tag is just not a candidate
        }
    }

    private static Regex? Compile(KeyValuePair<string, string>? label, List<string> errors)
    {
        if (label is not { } l || l.Value.Length == 0) return null;
        var regex = TryCompile(l.Value, out var error);
        if (regex is null) errors.Add($"{l.Key}=\"{l.Value}\" is not a valid regular expression: {error}");
        return regex;
    }

    // Docker labels use "tiaki.x", Kubernetes annotations "tiaki.dev/x": both mean the same.
    private static KeyValuePair<string, string>? Find(IReadOnlyDictionary<string, string> labels, string name)
    {
        if (labels.TryGetValue("tiaki." + name, out var value)) return new("tiaki." + name, value);
        if (labels.TryGetValue("tiaki.dev/" + name, out value)) return new("tiaki.dev/" + name, value);
        return null;
    }
}

/// <summary>Picks the newest allowed tag of the same shape.</summary>
internal static class TagSelector
{
    public static (TagVersion Version, UpdateBump Bump)? Newest(TagVersion current, IEnumerable<string> tags, UpdatePolicy policy)
    {
        TagVersion? best = null;
        foreach (var tag in tags)
        {
            if (tag == current.Tag) continue;
            var candidate = TagVersion.TryParse(tag);
            if (candidate is null || !candidate.SameShape(current)) continue;
            if (candidate.IsPreRelease && !current.IsPreRelease) continue;
            if (candidate.CompareTo(current) <= 0) continue;
            if (current.BumpTo(candidate) > policy.MaxBump) continue;
            if (!policy.Allows(tag)) continue;
            if (best is null || candidate.CompareTo(best) > 0) best = candidate;
        }
        return best is null ? null : (best, current.BumpTo(best));
    }
}
