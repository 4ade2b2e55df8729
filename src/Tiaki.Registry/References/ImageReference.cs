using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;

namespace Tiaki.Registry.References;

/// <summary>
/// A normalised image reference, parsed the way Docker parses it: <c>nginx</c> is
/// <c>docker.io/library/nginx:latest</c>, a first component with a dot, a colon or equal to
/// <c>localhost</c> is a registry host, and repository paths must be lowercase.
/// </summary>
public sealed partial record ImageReference
{
    /// <summary>The canonical name of Docker Hub.</summary>
    public const string DockerHub = "docker.io";

    private const string DockerHubApiHost = "registry-1.docker.io";
    private const int MaxNameLength = 255;

    private ImageReference(string registry, string repository, string? tag, string? digest)
    {
        Registry = registry;
        Repository = repository;
        Tag = tag;
        Digest = digest;
    }

    /// <summary>Registry name as users write it, e.g. <c>docker.io</c>, <c>ghcr.io</c>, <c>127.0.0.1:5000</c>.</summary>
    public string Registry { get; }

    /// <summary>Repository path inside the registry, e.g. <c>library/nginx</c>.</summary>
    public string Repository { get; }

    /// <summary>The tag, or null when the reference names only a digest.</summary>
    public string? Tag { get; }

    /// <summary>The digest (<c>sha256:...</c>) when the reference pins one.</summary>
    public string? Digest { get; }

    /// <summary>Host (and port) the distribution API is served from: <c>registry-1.docker.io</c> for Docker Hub.</summary>
    public string ApiHost => Registry == DockerHub ? DockerHubApiHost : Registry;

    /// <summary>What a manifest request asks for: the digest when pinned, otherwise the tag.</summary>
    public string Identifier => Digest ?? Tag ?? "latest";

    /// <summary><c>registry/repository</c> without tag or digest.</summary>
    public string Name => $"{Registry}/{Repository}";

    /// <summary>Returns the same repository with another tag and no digest.</summary>
    public ImageReference WithTag(string tag)
    {
        if (!TagPattern().IsMatch(tag))
            throw new ArgumentException($"invalid tag \"{tag}\"", nameof(tag));
        return new ImageReference(Registry, Repository, tag, null);
    }

    /// <summary>Returns the same repository pinned to a digest (the tag is kept for display).</summary>
    public ImageReference WithDigest(string digest)
    {
        if (!DigestPattern().IsMatch(digest))
            throw new ArgumentException($"invalid digest \"{digest}\"", nameof(digest));
        return new ImageReference(Registry, Repository, Tag, digest);
    }

    /// <inheritdoc />
    public override string ToString() =>
        Name + (Tag is null ? "" : ":" + Tag) + (Digest is null ? "" : "@" + Digest);

    /// <summary>Parses a reference or throws <see cref="FormatException"/> saying what is wrong.</summary>
    public static ImageReference Parse(string reference) =>
        TryParse(reference, out var parsed, out var error) ? parsed : throw new FormatException(error);

    /// <summary>Parses a reference; on failure <paramref name="error"/> says what is wrong with it.</summary>
    public static bool TryParse(string? reference, [NotNullWhen(true)] out ImageReference? parsed, [NotNullWhen(false)] out string? error)
    {
        parsed = null;
        if (string.IsNullOrWhiteSpace(reference))
        {
            error = "image reference is empty";
            return false;
        }
        var rest = reference.Trim();
        string? digest = null;
        var at = rest.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            digest = rest[(at + 1)..];
            rest = rest[..at];
            if (!DigestPattern().IsMatch(digest))
            {
                error = $"invalid reference \"{reference}\": digest \"{digest}\" is not algorithm:hex (e.g. sha256: and 64 hex digits)";
                return false;
            }
        }

        string? tag = null;
        var lastSlash = rest.LastIndexOf('/');
        var colon = rest.LastIndexOf(':');
        if (colon > lastSlash)
        {
            tag = rest[(colon + 1)..];
            rest = rest[..colon];
            if (!TagPattern().IsMatch(tag))
            {
                error = $"invalid reference \"{reference}\": tag \"{tag}\" must be 1-128 of [A-Za-z0-9_.-] and not start with '.' or '-'";
                return false;
            }
        }

        string registry;
        string path;
        var firstSlash = rest.IndexOf('/', StringComparison.Ordinal);
        var first = firstSlash < 0 ? rest : rest[..firstSlash];
        if (firstSlash >= 0 && (first.Contains('.', StringComparison.Ordinal) || first.Contains(':', StringComparison.Ordinal) || first == "localhost"))
        {
            registry = first;
            path = rest[(firstSlash + 1)..];
            if (!HostPattern().IsMatch(registry))
            {
                error = $"invalid reference \"{reference}\": registry \"{registry}\" is not a host[:port]";
                return false;
            }
        }
        else
        {
            registry = DockerHub;
            path = rest;
        }
        if (registry is "index.docker.io" or "registry-1.docker.io")
            registry = DockerHub;
        if (registry == DockerHub && !path.Contains('/', StringComparison.Ordinal))
            path = "library/" + path;

        if (path.Length == 0)
        {
            error = $"invalid reference \"{reference}\": repository name is missing";
            return false;
        }
        if (path.Any(char.IsUpper))
        {
            error = $"invalid reference \"{reference}\": repository name must be lowercase";
            return false;
        }
        foreach (var component in path.Split('/'))
        {
            if (!PathComponentPattern().IsMatch(component))
            {
                error = $"invalid reference \"{reference}\": path component \"{component}\" must be lowercase letters and digits, separated by '.', '_', '__' or '-'";
                return false;
            }
        }
        if (registry.Length + 1 + path.Length > MaxNameLength)
        {
            error = $"invalid reference \"{reference}\": name longer than {MaxNameLength} characters";
            return false;
        }

        if (tag is null && digest is null)
            tag = "latest";
        parsed = new ImageReference(registry, path, tag, digest);
        error = null;
        return true;
    }

    /// <summary>True when <paramref name="tag"/> is a valid tag.</summary>
    public static bool IsValidTag(string tag) => TagPattern().IsMatch(tag);

    /// <summary>True when <paramref name="digest"/> is <c>algorithm:hex</c>.</summary>
    public static bool IsValidDigest(string digest) => DigestPattern().IsMatch(digest);

    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]
    private static partial Regex TagPattern();

    [GeneratedRegex(@"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{32,}$")]
    private static partial Regex DigestPattern();

    [GeneratedRegex(@"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")]
    private static partial Regex PathComponentPattern();

    [GeneratedRegex(@"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:]+\])(?::[0-9]+)?$")]
    private static partial Regex HostPattern();
}
