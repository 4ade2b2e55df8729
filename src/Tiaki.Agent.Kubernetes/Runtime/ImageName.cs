namespace Tiaki.Agent.Kubernetes.Runtime;

/// <summary>
/// An image reference as written in a pod spec, split into repository, tag and digest the same way
/// the compose editor splits one (a colon before the last slash is a registry port).
/// </summary>
internal readonly record struct ImageName(string Repository, string? Tag, string? Digest)
{
    public static ImageName Parse(string reference)
    {
        var parsed = Tiaki.Agent.Core.Compose.ImageReference.Parse(reference);
        return new ImageName(parsed.Repository, parsed.Tag, parsed.Digest);
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
