using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tiaki.Agent.Core.Runtime;
using Tiaki.Contracts;
using Tiaki.Registry;
using Tiaki.Registry.Auth;
using Tiaki.Registry.Manifests;
using Tiaki.Registry.References;

namespace Tiaki.Agent.Core.Updates;

/// <summary>
/// The real <see cref="IUpdateChecker"/>: version tags move to the newest allowed tag of the same
/// shape; other tags (<c>latest</c>, <c>stable</c>) are compared by digest with what is running.
/// Within one call each repository's tag list and each (image, tag) manifest is fetched once.
/// </summary>
public sealed partial class UpdateChecker : IUpdateChecker, IDisposable
{
    private readonly RegistryClient _client;
    private readonly bool _ownsClient;
    private readonly RegistryClientOptions _clientOptions;
    private readonly HttpMessageHandler? _handler;
    private readonly TimeProvider? _timeProvider;
    private readonly UpdateCheckerOptions _options;
    private readonly ILogger _logger;

    /// <summary>Creates a checker with its own registry client; throws <see cref="ArgumentException"/> listing every invalid option.</summary>
    public UpdateChecker(UpdateCheckerOptions options, ILogger<UpdateChecker>? logger = null, TimeProvider? timeProvider = null, HttpMessageHandler? handler = null)
    {
        var errors = options.Validate();
        if (errors.Count > 0) throw new ArgumentException("invalid registry settings: " + string.Join("; ", errors), nameof(options));
        _options = options;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        var authFile = options.AuthFile ?? DockerConfigCredentialProvider.DefaultPath(Environment.GetEnvironmentVariable);
        IRegistryCredentialProvider credentials = new DockerConfigCredentialProvider(authFile);
        if (options is { Username: { } user, Password: { } password })
            credentials = new ChainedCredentialProvider(new StaticCredentialProvider(options.CredentialsRegistry, new RegistryCredential(user, password)), credentials);
        _clientOptions = new RegistryClientOptions
        {
            InsecureRegistries = options.InsecureRegistries,
            Credentials = credentials,
            MaxConcurrencyPerRegistry = options.ConcurrencyPerRegistry,
            RequestTimeout = options.RequestTimeout,
            MaxAttempts = options.MaxAttempts,
            InitialBackoff = options.InitialBackoff,
        };
        _handler = handler;
        _timeProvider = timeProvider;
        _client = new RegistryClient(_clientOptions, handler, _logger, timeProvider);
        _ownsClient = true;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<ContainerCheck>> CheckAsync(IReadOnlyList<ScannedContainer> containers, CancellationToken cancellationToken)
    {
        var results = await CheckImagesAsync(containers.Select(c => new ImageQuery(c.ImageReference, CurrentDigests(c), c.Labels) { Credentials = c.RegistryCredentials }).ToList(), cancellationToken);
        var checks = new ContainerCheck[containers.Count];
        for (var i = 0; i < containers.Count; i++)
        {
            var container = containers[i];
            var result = results[i];
            if (result.Error is not null) Log.CheckFailed(_logger, container.Report.Name, container.ImageReference, result.Error);
            var update = result is { IsUpdate: true, LatestTag: { } tag, LatestDigest: { } digest }
                ? new UpdateReport(container.Report.ContainerId, result.CurrentTag, tag, digest, result.ChangelogUrl)
                {
                    Bump = result.Bump,
                    ImageCreatedAt = result.ImageCreatedAt,
                }
                : null;
            checks[i] = new ContainerCheck(container, update, result.Error);
        }
        return checks;
    }

    /// <summary>Checks images given by reference (the <c>check</c> command and <see cref="CheckAsync"/>); one result per query, same order.</summary>
    internal async Task<IReadOnlyList<ImageCheckResult>> CheckImagesAsync(IReadOnlyList<ImageQuery> queries, CancellationToken cancellationToken)
    {
        var scan = new ScanMemo(_client, _options, cancellationToken);
        // Containers with their own pull credentials get a client of their own per distinct set: the
        // registry client caches tokens per registry and scope, and one workload's secret must not
        // open another's repositories (nor be shadowed by a token cached anonymously).
        var own = new Dictionary<string, (RegistryClient Client, ScanMemo Scan)>(StringComparer.Ordinal);
        try
        {
            var tasks = new Task<ImageCheckResult>[queries.Count];
            for (var i = 0; i < queries.Count; i++)
            {
                var query = queries[i];
                var memo = scan;
                if (query.Credentials is { Count: > 0 } credentials)
                {
                    var key = CredentialsKey(credentials);
                    if (!own.TryGetValue(key, out var entry))
                    {
                        var client = new RegistryClient(WithCredentials(credentials), _handler, _logger, _timeProvider);
                        entry = (client, new ScanMemo(client, _options, cancellationToken));
                        own[key] = entry;
                    }
                    memo = entry.Scan;
                }
                tasks[i] = CheckOneAsync(query, memo);
            }
            return await Task.WhenAll(tasks);
        }
        finally
        {
            foreach (var (client, _) in own.Values) client.Dispose();
        }
    }

    private RegistryClientOptions WithCredentials(IReadOnlyDictionary<string, RegistryCredential> credentials)
    {
        // The container's own credentials first, then whatever the agent would use anyway (auth file, REGISTRY_USERNAME).
        IRegistryCredentialProvider[] chain =
        [
            .. credentials.Select(kv => new StaticCredentialProvider(kv.Key, kv.Value)),
            .. _clientOptions.Credentials is { } fallback ? [fallback] : Array.Empty<IRegistryCredentialProvider>(),
        ];
        return new RegistryClientOptions
        {
            InsecureRegistries = _clientOptions.InsecureRegistries,
            Credentials = new ChainedCredentialProvider(chain),
            MaxConcurrencyPerRegistry = _clientOptions.MaxConcurrencyPerRegistry,
            RequestTimeout = _clientOptions.RequestTimeout,
            MaxAttempts = _clientOptions.MaxAttempts,
            InitialBackoff = _clientOptions.InitialBackoff,
        };
    }

    /// <summary>Identifies a credential set within one check; held in memory only, never logged.</summary>
    private static string CredentialsKey(IReadOnlyDictionary<string, RegistryCredential> credentials) =>
        string.Join('\n', credentials.OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => $"{kv.Key}\0{kv.Value.Username}\0{kv.Value.Password}\0{kv.Value.IdentityToken}"));

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsClient) _client.Dispose();
    }

    private static async Task<ImageCheckResult> CheckOneAsync(ImageQuery query, ScanMemo scan)
    {
        // A container started from an image ID has no repository to ask; "sha256:..." would otherwise parse as a Hub image.
        if (query.Image.StartsWith("sha256:", StringComparison.Ordinal))
            return new ImageCheckResult(query.Image, "") { Skipped = "runs an image ID, not a repository reference" };
        if (!ImageReference.TryParse(query.Image, out var reference, out var parseError))
            return ImageCheckResult.Failed(query.Image, "", parseError);
        var currentTag = reference.Tag ?? "";
        var (policy, policyError) = UpdatePolicy.FromLabels(query.Labels);
        if (policy is null) return ImageCheckResult.Failed(reference.ToString(), currentTag, policyError!);
        if (!policy.Enabled) return new ImageCheckResult(reference.ToString(), currentTag) { Skipped = "disabled by label" };
        if (reference.Tag is null) return new ImageCheckResult(reference.ToString(), currentTag) { Skipped = "pinned to a digest" };

        var current = new HashSet<string>(query.CurrentDigests, StringComparer.OrdinalIgnoreCase);
        if (reference.Digest is { } pinned) current.Add(pinned);
        var byTag = reference.WithTag(reference.Tag);

        try
        {
            if (TagVersion.TryParse(reference.Tag) is { } version)
            {
                var tags = await scan.TagsAsync(byTag);
                if (!tags.IsSuccess) return ImageCheckResult.Failed(reference.ToString(), currentTag, tags.Error.Message);
                if (TagSelector.Newest(version, tags.Value, policy) is { } newest)
                {
                    var candidate = byTag.WithTag(newest.Version.Tag);
                    var head = await scan.HeadAsync(candidate);
                    if (!head.IsSuccess) return ImageCheckResult.Failed(reference.ToString(), currentTag, head.Error.Message);
                    var details = await scan.DetailsAsync(candidate, head.Value);
                    return new ImageCheckResult(reference.ToString(), currentTag)
                    {
                        LatestTag = newest.Version.Tag,
                        LatestDigest = head.Value.Digest,
                        IsUpdate = true,
                        Bump = newest.Bump.ToString().ToLowerInvariant(),
                        ChangelogUrl = details.ChangelogUrl,
                        ImageCreatedAt = details.Created,
                    };
                }
            }

            // No newer version (or not a version tag): has the tag itself moved since this image was pulled?
            var now = await scan.HeadAsync(byTag);
            if (!now.IsSuccess) return ImageCheckResult.Failed(reference.ToString(), currentTag, now.Error.Message);
            var result = new ImageCheckResult(reference.ToString(), currentTag) { LatestTag = reference.Tag, LatestDigest = now.Value.Digest };
            if (current.Count == 0)
                return result with { Note = "running digest unknown: cannot tell whether the tag moved" };
            if (current.Contains(now.Value.Digest))
                return result;
            if (MediaTypes.IsIndex(now.Value.MediaType))
            {
                // The runtime may know the platform manifest's digest rather than the index's: compare like with like.
                var index = await scan.ManifestAsync(byTag.WithDigest(now.Value.Digest));
                if (!index.IsSuccess) return ImageCheckResult.Failed(reference.ToString(), currentTag, index.Error.Message);
                if (index.Value.Entries.Any(e => current.Contains(e.Digest)))
                    return result;
            }
            var moved = await scan.DetailsAsync(byTag, now.Value);
            return result with { IsUpdate = true, Bump = "digest", ChangelogUrl = moved.ChangelogUrl, ImageCreatedAt = moved.Created };
        }
        catch (OperationCanceledException) when (!scan.CancellationToken.IsCancellationRequested)
        {
            return ImageCheckResult.Failed(reference.ToString(), currentTag, "registry request cancelled");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // One image must never abort the scan of the others, whatever went wrong with it.
            return ImageCheckResult.Failed(reference.ToString(), currentTag, $"unexpected {e.GetType().Name}: {e.Message}");
        }
    }

    /// <summary>Digests the running image is known by in this repository (Docker's RepoDigests are <c>repo@sha256:...</c>).</summary>
    private static List<string> CurrentDigests(ScannedContainer container)
    {
        var digests = new List<string>();
        var reference = ImageReference.TryParse(container.ImageReference, out var parsed, out _) ? parsed : null;
        foreach (var entry in container.RepoDigests)
        {
            var at = entry.LastIndexOf('@');
            if (at < 0)
            {
                if (ImageReference.IsValidDigest(entry)) digests.Add(entry);
                continue;
            }
            // RepoDigests may list other repositories the same image was pushed to: only this one's count.
            if (reference is not null && ImageReference.TryParse(entry, out var other, out _) && other.Name != reference.Name) continue;
            digests.Add(entry[(at + 1)..]);
        }
        if (ImageReference.IsValidDigest(container.Report.Digest) && digests.Count == 0)
            digests.Add(container.Report.Digest);
        return digests;
    }

    private static partial class Log
    {
        [LoggerMessage(101, LogLevel.Warning, "Update check of {Container} ({Image}) failed: {Error}")]
        public static partial void CheckFailed(ILogger logger, string container, string image, string error);
    }
}

/// <summary>One image to check: its reference, the digests it runs as, and its policy labels.</summary>
internal sealed record ImageQuery(string Image, IReadOnlyCollection<string> CurrentDigests, IReadOnlyDictionary<string, string>? Labels)
{
    /// <summary>The container's own pull credentials (registry host → credential), preferred to the agent's.</summary>
    public IReadOnlyDictionary<string, RegistryCredential>? Credentials { get; init; }
}

/// <summary>Everything the check found for one image, update or not.</summary>
internal sealed record ImageCheckResult(string Image, string CurrentTag)
{
    public string? LatestTag { get; init; }
    public string? LatestDigest { get; init; }
    public bool IsUpdate { get; init; }
    public string? Bump { get; init; }
    public string? ChangelogUrl { get; init; }
    public DateTimeOffset? ImageCreatedAt { get; init; }
    public string? Error { get; init; }
    public string? Skipped { get; init; }
    public string? Note { get; init; }

    public static ImageCheckResult Failed(string image, string currentTag, string error) => new(image, currentTag) { Error = error };
}

/// <summary>Registry answers shared by every container of one scan: identical requests are made once.</summary>
internal sealed class ScanMemo(RegistryClient client, UpdateCheckerOptions options, CancellationToken cancellationToken)
{
    private static readonly string[] SourceKeys =
        ["org.opencontainers.image.source", "org.opencontainers.image.url", "org.label-schema.vcs-url", "org.label-schema.url"];

    private readonly ConcurrentDictionary<string, Lazy<Task<RegistryResult<IReadOnlyList<string>>>>> _tags = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Lazy<Task<RegistryResult<ManifestDescriptor>>>> _heads = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Lazy<Task<RegistryResult<Manifest>>>> _manifests = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Lazy<Task<ImageDetails>>> _details = new(StringComparer.Ordinal);

    public CancellationToken CancellationToken => cancellationToken;

    public Task<RegistryResult<IReadOnlyList<string>>> TagsAsync(ImageReference reference) =>
        _tags.GetOrAdd(reference.Name, _ => new(() => client.ListTagsAsync(reference, cancellationToken))).Value;

    public Task<RegistryResult<ManifestDescriptor>> HeadAsync(ImageReference reference) =>
        _heads.GetOrAdd(reference.ToString(), _ => new(() => client.HeadManifestAsync(reference, cancellationToken))).Value;

    public Task<RegistryResult<Manifest>> ManifestAsync(ImageReference reference) =>
        _manifests.GetOrAdd(reference.Name + "@" + reference.Digest, _ => new(() => client.GetManifestAsync(reference, cancellationToken))).Value;

    public Task<ImageDetails> DetailsAsync(ImageReference reference, ManifestDescriptor descriptor) =>
        options.FetchImageDetails
            ? _details.GetOrAdd(reference.Name + "@" + descriptor.Digest, _ => new(() => LoadDetailsAsync(reference.WithDigest(descriptor.Digest)))).Value
            : Task.FromResult(ImageDetails.None);

    /// <summary>Changelog link and build time from annotations and config labels; best effort, never an error.</summary>
    private async Task<ImageDetails> LoadDetailsAsync(ImageReference pinned)
    {
        var manifest = await ManifestAsync(pinned);
        if (!manifest.IsSuccess) return ImageDetails.None;
        var annotations = new Dictionary<string, string>(manifest.Value.Annotations, StringComparer.Ordinal);
        var image = manifest.Value;
        if (image.IsIndex)
        {
            var entry = image.EntryFor(options.Platform) ?? (image.Entries.Count > 0 ? image.Entries[0] : null);
            if (entry is null) return new ImageDetails(Changelog(annotations), null);
            var platformManifest = await ManifestAsync(pinned.WithDigest(entry.Digest));
            if (!platformManifest.IsSuccess) return new ImageDetails(Changelog(annotations), null);
            image = platformManifest.Value;
            foreach (var (k, v) in image.Annotations) annotations.TryAdd(k, v);
        }
        if (image.ConfigDigest is null) return new ImageDetails(Changelog(annotations), null);
        var config = await client.GetImageConfigAsync(pinned, image.ConfigDigest, cancellationToken);
        if (!config.IsSuccess) return new ImageDetails(Changelog(annotations), null);
        foreach (var (k, v) in config.Value.Labels) annotations.TryAdd(k, v);
        return new ImageDetails(Changelog(annotations), config.Value.Created);
    }

    internal static string? Changelog(IReadOnlyDictionary<string, string> labels)
    {
        foreach (var key in SourceKeys)
        {
            if (!labels.TryGetValue(key, out var value)) continue;
            var url = value.Trim();
            if (url.StartsWith("git+", StringComparison.Ordinal)) url = url[4..];
            if (url.EndsWith(".git", StringComparison.Ordinal)) url = url[..^4];
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http")) continue;
            // GitHub and GitLab list releases beside the source; elsewhere the source page is the best link.
            var path = uri.AbsolutePath.TrimEnd('/');
            if (uri.Host is "github.com" or "gitlab.com" && path.Count(c => c == '/') == 2)
                return $"{uri.Scheme}://{uri.Host}{path}/releases";
            return uri.ToString();
        }
        return null;
    }
}

internal sealed record ImageDetails(string? ChangelogUrl, DateTimeOffset? Created)
{
    public static readonly ImageDetails None = new(null, null);
}
