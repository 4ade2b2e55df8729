using System.Security.Cryptography;
using System.Text.Json;

namespace Tiaki.Registry.Manifests;

/// <summary>What a manifest <c>HEAD</c> tells: its digest, media type and size.</summary>
/// <param name="Digest">Content digest (<c>sha256:...</c>) of the manifest as stored.</param>
/// <param name="MediaType">The manifest's media type.</param>
/// <param name="Size">Size in bytes, when known.</param>
public sealed record ManifestDescriptor(string Digest, string MediaType, long? Size);

/// <summary>One entry of an index or manifest list.</summary>
/// <param name="Digest">Digest of the platform's image manifest.</param>
/// <param name="MediaType">Its media type.</param>
/// <param name="Platform">The platform it is for, when the index says.</param>
public sealed record IndexEntry(string Digest, string MediaType, Platform? Platform);

/// <summary>A fetched manifest: an index (with <see cref="Entries"/>) or an image manifest (with <see cref="ConfigDigest"/>).</summary>
/// <param name="Descriptor">Digest, media type and size.</param>
/// <param name="Entries">Platform manifests of an index; empty for an image manifest.</param>
/// <param name="ConfigDigest">The config blob of an image manifest; null for an index.</param>
/// <param name="Annotations">The manifest's OCI annotations.</param>
public sealed record Manifest(
    ManifestDescriptor Descriptor,
    IReadOnlyList<IndexEntry> Entries,
    string? ConfigDigest,
    IReadOnlyDictionary<string, string> Annotations)
{
    /// <summary>True for an OCI index or Docker manifest list.</summary>
    public bool IsIndex => MediaTypes.IsIndex(Descriptor.MediaType);

    /// <summary>The entry for <paramref name="platform"/>, if the index has one.</summary>
    public IndexEntry? EntryFor(Platform platform) =>
        Entries.FirstOrDefault(e => e.Platform is { } p && platform.Matches(p) && p.Variant == platform.Variant)
        ?? Entries.FirstOrDefault(e => e.Platform is { } p && platform.Matches(p));

    internal static Manifest Parse(byte[] body, string? contentType, string? digest)
    {
        using var doc = JsonDocument.Parse(body);
        var root = doc.RootElement;
        var mediaType = root.TryGetProperty("mediaType", out var mt) && mt.GetString() is { Length: > 0 } declared
            ? declared
            : MediaTypeOf(contentType) ?? (root.TryGetProperty("manifests", out _) ? MediaTypes.OciIndex : MediaTypes.OciManifest);
        var descriptor = new ManifestDescriptor(digest ?? ComputeDigest(body), mediaType, body.LongLength);

        var entries = new List<IndexEntry>();
        if (root.TryGetProperty("manifests", out var manifests) && manifests.ValueKind == JsonValueKind.Array)
        {
            foreach (var m in manifests.EnumerateArray())
            {
                Platform? platform = null;
                if (m.TryGetProperty("platform", out var p) && p.ValueKind == JsonValueKind.Object)
                    platform = new Platform(Str(p, "os") ?? "", Str(p, "architecture") ?? "", Str(p, "variant"));
                entries.Add(new IndexEntry(Str(m, "digest") ?? "", Str(m, "mediaType") ?? "", platform));
            }
        }
        string? config = null;
        if (root.TryGetProperty("config", out var c) && c.ValueKind == JsonValueKind.Object)
            config = Str(c, "digest");
        return new Manifest(descriptor, entries, config, ReadStringMap(root, "annotations"));
    }

    internal static string ComputeDigest(byte[] body) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(body));

    internal static string? MediaTypeOf(string? contentType) =>
        contentType is null ? null : contentType.Split(';')[0].Trim() is { Length: > 0 } t ? t : null;

    internal static IReadOnlyDictionary<string, string> ReadStringMap(JsonElement parent, string name)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        if (parent.TryGetProperty(name, out var obj) && obj.ValueKind == JsonValueKind.Object)
            foreach (var property in obj.EnumerateObject())
                if (property.Value.ValueKind == JsonValueKind.String)
                    map[property.Name] = property.Value.GetString()!;
        return map;
    }

    private static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}

/// <summary>The parts of an image config this client reads.</summary>
/// <param name="Created">When the image was built.</param>
/// <param name="Labels">Image labels (<c>config.Labels</c>).</param>
/// <param name="Platform">The platform the image is for.</param>
public sealed record ImageConfig(DateTimeOffset? Created, IReadOnlyDictionary<string, string> Labels, Platform? Platform)
{
    internal static ImageConfig Parse(byte[] body)
    {
        using var doc = JsonDocument.Parse(body);
        var root = doc.RootElement;
        DateTimeOffset? created = root.TryGetProperty("created", out var c) && c.ValueKind == JsonValueKind.String
            && DateTimeOffset.TryParse(c.GetString(), System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var t) ? t : null;
        IReadOnlyDictionary<string, string> labels = root.TryGetProperty("config", out var cfg) && cfg.ValueKind == JsonValueKind.Object
            ? Manifest.ReadStringMap(cfg, "Labels")
            : new Dictionary<string, string>();
        Platform? platform = root.TryGetProperty("architecture", out var a) && a.ValueKind == JsonValueKind.String
            ? new Platform(root.TryGetProperty("os", out var o) ? o.GetString() ?? "" : "", a.GetString()!,
                root.TryGetProperty("variant", out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null)
            : null;
        return new ImageConfig(created, labels, platform);
    }
}

/// <summary>A tag resolved to digests: the one the tag points at and, for an index, the host platform's.</summary>
/// <param name="Digest">What the tag points at (the index digest for multi-platform images). Docker's RepoDigests hold this.</param>
/// <param name="MediaType">Media type of <paramref name="Digest"/>.</param>
/// <param name="PlatformDigest">The platform's image manifest digest; equals <paramref name="Digest"/> for single-platform images; null when the index has no entry for the platform.</param>
public sealed record ResolvedImage(string Digest, string MediaType, string? PlatformDigest);
