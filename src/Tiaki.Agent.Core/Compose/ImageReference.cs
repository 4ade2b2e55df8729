using System.Text.RegularExpressions;

namespace Tiaki.Agent.Core.Compose;

/// <summary>A container image reference split into repository, tag and digest (no registry normalisation).</summary>
public sealed partial record ImageReference(string Repository, string? Tag, string? Digest)
{
    public static ImageReference Parse(string reference)
    {
        string? digest = null;
        var at = reference.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            digest = reference[(at + 1)..];
            reference = reference[..at];
        }
        var slash = reference.LastIndexOf('/');
        var colon = reference.LastIndexOf(':');
        return colon > slash
            ? new ImageReference(reference[..colon], reference[(colon + 1)..], digest)
            : new ImageReference(reference, null, digest);
    }

    public string TagOrLatest => Tag ?? "latest";

    public override string ToString() =>
        Repository + (Tag is null ? "" : ":" + Tag) + (Digest is null ? "" : "@" + Digest);

    /// <summary>A tag as the distribution spec allows it; anything else is refused before it reaches a file.</summary>
    public static bool IsValidTag(string? tag) => tag is not null && TagPattern().IsMatch(tag);

    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]
    private static partial Regex TagPattern();
}
