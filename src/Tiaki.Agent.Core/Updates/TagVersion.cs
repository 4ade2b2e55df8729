using System.Globalization;
using System.Text.RegularExpressions;

namespace Tiaki.Agent.Core.Updates;

/// <summary>
/// A tag read as a version: prefix (<c>v</c>), numeric parts (<c>1.25.3</c>), an optional
/// pre-release (<c>-rc.1</c>) and a variant (<c>-alpine</c>). Two tags have the same shape when
/// prefix, number of parts and variant agree; only same-shape tags are update candidates.
/// </summary>
internal sealed partial record TagVersion(string Tag, string Prefix, long[] Parts, string? PreRelease, string Variant)
    : IComparable<TagVersion>
{
    public bool IsPreRelease => PreRelease is not null;

    public bool SameShape(TagVersion other) =>
        Prefix == other.Prefix && Parts.Length == other.Parts.Length && Variant == other.Variant;

    public static TagVersion? TryParse(string tag)
    {
        var match = Shape().Match(tag);
        if (!match.Success) return null;
        var rest = match.Groups["rest"].Value;
        // "1.2.3abc" or a hash like "1a2b3c" is not a version; a suffix starts with a separator.
        if (rest.Length > 0 && rest[0] is not ('-' or '_' or '+' or '~')) return null;

        var coreParts = match.Groups["core"].Value.Split('.');
        var parts = new long[coreParts.Length];
        for (var i = 0; i < coreParts.Length; i++)
            if (coreParts[i].Length > 18 || !long.TryParse(coreParts[i], NumberStyles.None, CultureInfo.InvariantCulture, out parts[i]))
                return null;

        string? preRelease = null;
        var variant = rest;
        var pre = PreReleasePattern().Match(rest);
        if (pre.Success)
        {
            preRelease = pre.Groups["pre"].Value;
            variant = rest[pre.Length..];
        }
        // Build metadata (+build.5) does not order versions and is not part of the shape.
        if (variant.StartsWith('+')) variant = "";
        return new TagVersion(tag, match.Groups["prefix"].Value, parts, preRelease, variant);
    }

    /// <summary>major, minor or patch: the highest part that differs.</summary>
    public UpdateBump BumpTo(TagVersion newer)
    {
        if (newer.Parts[0] != Parts[0]) return UpdateBump.Major;
        if (Parts.Length > 1 && newer.Parts[1] != Parts[1]) return UpdateBump.Minor;
        return UpdateBump.Patch;
    }

    public int CompareTo(TagVersion? other)
    {
        if (other is null) return 1;
        for (var i = 0; i < Math.Min(Parts.Length, other.Parts.Length); i++)
        {
            var c = Parts[i].CompareTo(other.Parts[i]);
            if (c != 0) return c;
        }
        var byLength = Parts.Length.CompareTo(other.Parts.Length);
        if (byLength != 0) return byLength;
        // A release sorts after its pre-releases.
        if (PreRelease is null) return other.PreRelease is null ? 0 : 1;
        if (other.PreRelease is null) return -1;
        return ComparePreRelease(PreRelease, other.PreRelease);
    }

    private static int ComparePreRelease(string a, string b)
    {
        var x = Tokens(a);
        var y = Tokens(b);
        for (var i = 0; i < Math.Min(x.Count, y.Count); i++)
        {
            var (xn, xs) = x[i];
            var (yn, ys) = y[i];
            int c;
            if (xs is null && ys is null) c = xn.CompareTo(yn);
            else if (xs is null) c = -1; // numeric identifiers sort before alphanumeric ones (semver)
            else if (ys is null) c = 1;
            else
            {
                c = Rank(xs).CompareTo(Rank(ys));
                if (c == 0) c = string.CompareOrdinal(xs, ys);
            }
            if (c != 0) return c;
        }
        return x.Count.CompareTo(y.Count);
    }

    // Maturity order of the usual pre-release words; unknown words sort by name after these.
    private static int Rank(string word) => word.ToLowerInvariant() switch
    {
        "dev" or "snapshot" or "nightly" or "canary" => 0,
        "alpha" or "a" => 1,
        "beta" or "b" => 2,
        "m" or "pre" or "preview" or "next" => 3,
        "rc" or "cr" => 4,
        _ => 5,
    };

    private static List<(long Number, string? Word)> Tokens(string text)
    {
        var tokens = new List<(long, string?)>();
        foreach (Match m in TokenPattern().Matches(text))
        {
            if (char.IsDigit(m.Value[0]))
                tokens.Add((long.TryParse(m.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : long.MaxValue, null));
            else
                tokens.Add((0, m.Value));
        }
        return tokens;
    }

    [GeneratedRegex(@"^(?<prefix>[A-Za-z]*[-_]?)(?<core>\d+(?:\.\d+){0,3})(?<rest>.*)$")]
    private static partial Regex Shape();

    [GeneratedRegex(@"^[-_.~](?<pre>(?:alpha|beta|rc|cr|pre|preview|dev|snapshot|nightly|canary|next|a|b|m)(?:[.\-]?\d+)*)(?=$|[-_+])", RegexOptions.IgnoreCase)]
    private static partial Regex PreReleasePattern();

    [GeneratedRegex(@"\d+|[A-Za-z]+")]
    private static partial Regex TokenPattern();
}

/// <summary>How far an update moves a version.</summary>
internal enum UpdateBump
{
    Patch = 1,
    Minor = 2,
    Major = 3,
}
