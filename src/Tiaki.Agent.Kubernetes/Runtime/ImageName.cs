namespace Tiaki.Agent.Kubernetes.Runtime;

/// <summary>
/// Splits an image reference as written in a pod spec into repository, tag and digest. A colon
/// after the last slash is a tag; one before it belongs to a registry port (127.0.0.1:5000/app).
/// </summary>
internal readonly record struct ImageName(string Repository, string? Tag, string? Digest)
{
    public static ImageName Parse(string reference)
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
            ? new ImageName(reference[..colon], reference[(colon + 1)..], digest)
            : new ImageName(reference, null, digest);
    }

    public string WithTag(string tag) => $"{Repository}:{tag}";

    /// <summary>
    /// The digest part of a container status <c>imageID</c>. Runtimes write it differently:
    /// containerd <c>docker.io/library/nginx@sha256:…</c>, dockershim <c>docker-pullable://nginx@sha256:…</c>,
    /// CRI-O sometimes the bare <c>sha256:…</c>.
    /// </summary>
    public static string? DigestOfImageId(string? imageId)
    {
        if (string.IsNullOrEmpty(imageId))
        {
            return null;
        }

        var at = imageId.LastIndexOf('@');
        var digest = at >= 0 ? imageId[(at + 1)..] : imageId;
        return digest.StartsWith("sha256:", StringComparison.Ordinal) ? digest : null;
    }

    /// <summary>The imageID without the runtime's scheme prefix: <c>repo@sha256:…</c>, the way Docker lists RepoDigests.</summary>
    public static string? RepoDigestOfImageId(string? imageId)
    {
        if (string.IsNullOrEmpty(imageId) || !imageId.Contains('@', StringComparison.Ordinal))
        {
            return null;
        }

        var scheme = imageId.IndexOf("://", StringComparison.Ordinal);
        return scheme >= 0 ? imageId[(scheme + 3)..] : imageId;
    }
}
