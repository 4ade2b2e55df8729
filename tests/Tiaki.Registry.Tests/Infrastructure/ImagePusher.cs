using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Tiaki.Testing.Registry;

/// <summary>What an image pushed by the tests looks like.</summary>
public sealed record ImageSpec
{
    public Dictionary<string, string> Labels { get; init; } = [];
    public Dictionary<string, string> Annotations { get; init; } = [];
    public DateTimeOffset Created { get; init; } = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
    public string Os { get; init; } = "linux";
    public string Architecture { get; init; } = "amd64";
    public string? Variant { get; init; }
    public bool DockerMediaTypes { get; init; }
}

/// <summary>Pushes images straight through the distribution API: blob uploads and manifest PUTs.</summary>
public sealed class ImagePusher(string registryHost, Func<string, AuthenticationHeaderValue?>? auth = null) : IDisposable
{
    private readonly HttpClient _http = new();

    public static string Digest(byte[] bytes) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>Pushes a single-platform image with a unique layer; returns its manifest digest.</summary>
    public async Task<string> PushImageAsync(string repository, string? tag, ImageSpec? spec = null)
    {
        spec ??= new ImageSpec();
        var layer = Encoding.UTF8.GetBytes("layer " + Guid.NewGuid());
        var layerDigest = Digest(layer);
        var config = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object?>
        {
            ["architecture"] = spec.Architecture,
            ["os"] = spec.Os,
            ["variant"] = spec.Variant,
            ["created"] = spec.Created.ToString("yyyy-MM-ddTHH:mm:ssZ"),
            ["config"] = new Dictionary<string, object> { ["Labels"] = spec.Labels },
            ["rootfs"] = new Dictionary<string, object> { ["type"] = "layers", ["diff_ids"] = new[] { layerDigest } },
        });
        await UploadBlobAsync(repository, layer);
        await UploadBlobAsync(repository, config);
        var manifest = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = spec.DockerMediaTypes ? "application/vnd.docker.distribution.manifest.v2+json" : "application/vnd.oci.image.manifest.v1+json",
            ["config"] = new Dictionary<string, object>
            {
                ["mediaType"] = spec.DockerMediaTypes ? "application/vnd.docker.container.image.v1+json" : "application/vnd.oci.image.config.v1+json",
                ["digest"] = Digest(config), ["size"] = config.Length,
            },
            ["layers"] = new[]
            {
                new Dictionary<string, object>
                {
                    ["mediaType"] = spec.DockerMediaTypes ? "application/vnd.docker.image.rootfs.diff.tar.gzip" : "application/vnd.oci.image.layer.v1.tar",
                    ["digest"] = layerDigest, ["size"] = layer.Length,
                },
            },
            ["annotations"] = spec.Annotations,
        });
        var mediaType = spec.DockerMediaTypes ? "application/vnd.docker.distribution.manifest.v2+json" : "application/vnd.oci.image.manifest.v1+json";
        return await PutManifestAsync(repository, tag ?? Digest(manifest), manifest, mediaType);
    }

    /// <summary>Pushes one image per platform and an index (OCI) or manifest list (Docker) over them.</summary>
    public async Task<(string IndexDigest, Dictionary<string, string> PlatformDigests)> PushIndexAsync(
        string repository, string tag, string[] platforms, bool dockerManifestList = false, ImageSpec? spec = null)
    {
        var entries = new List<object>();
        var digests = new Dictionary<string, string>();
        foreach (var platform in platforms)
        {
            var parts = platform.Split('/');
            var image = (spec ?? new ImageSpec()) with { Os = parts[0], Architecture = parts[1], Variant = parts.Length > 2 ? parts[2] : null, DockerMediaTypes = dockerManifestList };
            var digest = await PushImageAsync(repository, null, image);
            digests[platform] = digest;
            var (bytes, mediaType) = await GetManifestAsync(repository, digest);
            var p = new Dictionary<string, object> { ["os"] = parts[0], ["architecture"] = parts[1] };
            if (parts.Length > 2) p["variant"] = parts[2];
            entries.Add(new Dictionary<string, object> { ["mediaType"] = mediaType, ["digest"] = digest, ["size"] = bytes.Length, ["platform"] = p });
        }
        var indexType = dockerManifestList ? "application/vnd.docker.distribution.manifest.list.v2+json" : "application/vnd.oci.image.index.v1+json";
        var index = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
        {
            ["schemaVersion"] = 2, ["mediaType"] = indexType, ["manifests"] = entries,
            ["annotations"] = spec?.Annotations ?? [],
        });
        return (await PutManifestAsync(repository, tag, index, indexType), digests);
    }

    /// <summary>Points another tag at an existing manifest.</summary>
    public async Task TagAsync(string repository, string digest, string tag)
    {
        var (bytes, mediaType) = await GetManifestAsync(repository, digest);
        await PutManifestAsync(repository, tag, bytes, mediaType);
    }

    public async Task<string> PutManifestAsync(string repository, string reference, byte[] manifest, string mediaType)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, $"http://{registryHost}/v2/{repository}/manifests/{reference}")
        {
            Content = new ByteArrayContent(manifest),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        request.Headers.Authorization = auth?.Invoke(repository);
        using var response = await _http.SendAsync(request);
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"manifest PUT {repository}:{reference} failed: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return Digest(manifest);
    }

    public async Task<(byte[] Bytes, string MediaType)> GetManifestAsync(string repository, string reference)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://{registryHost}/v2/{repository}/manifests/{reference}");
        foreach (var t in new[] { "application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json" })
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(t));
        request.Headers.Authorization = auth?.Invoke(repository);
        using var response = await _http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadAsByteArrayAsync(), response.Content.Headers.ContentType!.MediaType!);
    }

    private async Task UploadBlobAsync(string repository, byte[] blob)
    {
        using var start = new HttpRequestMessage(HttpMethod.Post, $"http://{registryHost}/v2/{repository}/blobs/uploads/");
        start.Headers.Authorization = auth?.Invoke(repository);
        using var started = await _http.SendAsync(start);
        if (!started.IsSuccessStatusCode)
            throw new InvalidOperationException($"blob upload to {repository} failed: {(int)started.StatusCode} {await started.Content.ReadAsStringAsync()}");
        var location = started.Headers.Location!;
        if (!location.IsAbsoluteUri) location = new Uri(new Uri($"http://{registryHost}"), location);
        var separator = location.Query.Length > 0 ? "&" : "?";
        using var put = new HttpRequestMessage(HttpMethod.Put, $"{location}{separator}digest={Digest(blob)}") { Content = new ByteArrayContent(blob) };
        put.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        put.Headers.Authorization = auth?.Invoke(repository);
        using var done = await _http.SendAsync(put);
        if (!done.IsSuccessStatusCode)
            throw new InvalidOperationException($"blob PUT to {repository} failed: {(int)done.StatusCode} {await done.Content.ReadAsStringAsync()}");
    }

    public void Dispose() => _http.Dispose();
}
