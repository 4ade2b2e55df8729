using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tiaki.Registry.Auth;
using Tiaki.Registry.Manifests;
using Tiaki.Registry.References;
using Tiaki.Registry.Transport;

namespace Tiaki.Registry;

/// <summary>
/// A client of the OCI distribution API. Each registry is pinged once; its <c>WWW-Authenticate</c>
/// challenge decides between Basic and Bearer auth; bearer tokens are cached per registry and scope
/// until they expire, and concurrent callers share one token request. 429 (honouring
/// <c>Retry-After</c>), 5xx, timeouts and network errors are retried a bounded number of times with
/// jittered backoff. Every failure comes back as a <see cref="RegistryError"/> value.
/// Thread-safe; create one per process and reuse it.
/// </summary>
public sealed partial class RegistryClient : IDisposable
{
    private const int MaxBodyBytes = 32 * 1024 * 1024;
    private static readonly TimeSpan PingFailureMemory = TimeSpan.FromSeconds(30);

    private readonly RegistryClientOptions _options;
    private readonly HttpClient _secure;
    private readonly HttpClient _insecure;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly HashSet<string> _insecureHosts;
    private readonly ConcurrentDictionary<string, RegistryHost> _hosts = new(StringComparer.Ordinal);

    /// <summary>Creates a client with its own HTTP handlers.</summary>
    /// <param name="options">Settings; invalid settings throw <see cref="ArgumentException"/> listing each one.</param>
    /// <param name="logger">Receives retries and token events (never credentials).</param>
    /// <param name="timeProvider">The clock used for token expiry and backoff delays.</param>
    public RegistryClient(RegistryClientOptions options, ILogger? logger = null, TimeProvider? timeProvider = null)
        : this(options, null, logger, timeProvider)
    {
    }

    /// <summary>Creates a client sending every request through <paramref name="handler"/> (for proxies and tests); TLS settings are then the handler's.</summary>
    public RegistryClient(RegistryClientOptions options, HttpMessageHandler? handler, ILogger? logger = null, TimeProvider? timeProvider = null)
    {
        var errors = options.Validate();
        if (errors.Count > 0)
            throw new ArgumentException("invalid registry client options: " + string.Join("; ", errors), nameof(options));
        _options = options;
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
        _insecureHosts = new HashSet<string>(options.InsecureRegistries.Select(h => h.Trim().ToLowerInvariant()), StringComparer.Ordinal);
        if (handler is not null)
        {
            _secure = _insecure = new HttpClient(handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
        }
        else
        {
            _secure = new HttpClient(CreateHandler(verifyTls: true)) { Timeout = Timeout.InfiniteTimeSpan };
            _insecure = new HttpClient(CreateHandler(verifyTls: false)) { Timeout = Timeout.InfiniteTimeSpan };
        }
        _secure.DefaultRequestHeaders.UserAgent.ParseAdd(options.UserAgent);
        if (!ReferenceEquals(_secure, _insecure))
            _insecure.DefaultRequestHeaders.UserAgent.ParseAdd(options.UserAgent);
    }

    /// <summary>
    /// The manifest descriptor a tag or digest points at, from a <c>HEAD</c> sending every manifest
    /// media type in <c>Accept</c>; falls back to <c>GET</c> (hashing the body) when the registry
    /// refuses <c>HEAD</c> or sends no <c>Docker-Content-Digest</c>.
    /// </summary>
    public async Task<RegistryResult<ManifestDescriptor>> HeadManifestAsync(ImageReference reference, CancellationToken cancellationToken)
    {
        var response = await SendAsync(reference, "manifest " + reference.Identifier,
            baseUri => ManifestRequest(HttpMethod.Head, baseUri, reference.Repository, reference.Identifier), cancellationToken);
        if (!response.IsSuccess) return response.Error;
        var raw = response.Value;
        if (raw.IsSuccess)
        {
            var digest = raw.Header("Docker-Content-Digest") ?? reference.Digest;
            var mediaType = Manifest.MediaTypeOf(raw.ContentType);
            if (digest is not null && mediaType is not null && ImageReference.IsValidDigest(digest))
                return new ManifestDescriptor(digest, mediaType, raw.ContentLength);
        }
        else if (raw.StatusCode is not (HttpStatusCode.MethodNotAllowed or HttpStatusCode.NotImplemented or HttpStatusCode.BadRequest))
        {
            return ErrorFrom(raw, reference.Registry, $"manifest {reference.Repository}:{reference.Identifier}");
        }
        var manifest = await GetManifestAsync(reference, cancellationToken);
        return manifest.IsSuccess ? manifest.Value.Descriptor : manifest.Error;
    }

    /// <summary>Fetches and parses a manifest; its digest is computed from the bytes received.</summary>
    public async Task<RegistryResult<Manifest>> GetManifestAsync(ImageReference reference, CancellationToken cancellationToken)
    {
        var response = await SendAsync(reference, "manifest " + reference.Identifier,
            baseUri => ManifestRequest(HttpMethod.Get, baseUri, reference.Repository, reference.Identifier), cancellationToken);
        if (!response.IsSuccess) return response.Error;
        var raw = response.Value;
        if (!raw.IsSuccess) return ErrorFrom(raw, reference.Registry, $"manifest {reference.Repository}:{reference.Identifier}");
        var digest = Manifest.ComputeDigest(raw.Body);
        if (reference.Digest is { } expected && expected.StartsWith("sha256:", StringComparison.Ordinal) && !string.Equals(expected, digest, StringComparison.OrdinalIgnoreCase))
            return new RegistryError(RegistryErrorKind.InvalidResponse, $"registry {reference.Registry} sent a manifest for {reference.Repository}@{expected} whose content hashes to {digest}");
        try
        {
            return Manifest.Parse(raw.Body, raw.ContentType, digest);
        }
        catch (JsonException e)
        {
            return new RegistryError(RegistryErrorKind.InvalidResponse, $"registry {reference.Registry} sent an unreadable manifest for {reference.Repository}:{reference.Identifier}: {e.Message}");
        }
    }

    /// <summary>
    /// Resolves a tag to the digest it points at and, for a multi-platform image, to the digest of
    /// <paramref name="platform"/>'s manifest (one <c>HEAD</c>, plus one <c>GET</c> for an index).
    /// </summary>
    public async Task<RegistryResult<ResolvedImage>> ResolveAsync(ImageReference reference, Platform platform, CancellationToken cancellationToken)
    {
        var head = await HeadManifestAsync(reference, cancellationToken);
        if (!head.IsSuccess) return head.Error;
        if (!MediaTypes.IsIndex(head.Value.MediaType))
            return new ResolvedImage(head.Value.Digest, head.Value.MediaType, head.Value.Digest);
        var index = await GetManifestAsync(reference.WithDigest(head.Value.Digest), cancellationToken);
        if (!index.IsSuccess) return index.Error;
        return new ResolvedImage(head.Value.Digest, head.Value.MediaType, index.Value.EntryFor(platform)?.Digest);
    }

    /// <summary>Reads the image config blob (labels, created time, platform).</summary>
    public async Task<RegistryResult<ImageConfig>> GetImageConfigAsync(ImageReference repository, string configDigest, CancellationToken cancellationToken)
    {
        var response = await SendAsync(repository, "config " + configDigest, baseUri =>
            new HttpRequestMessage(HttpMethod.Get, new Uri(baseUri, $"/v2/{repository.Repository}/blobs/{configDigest}")), cancellationToken);
        if (!response.IsSuccess) return response.Error;
        var raw = response.Value;
        if (!raw.IsSuccess) return ErrorFrom(raw, repository.Registry, $"blob {repository.Repository}@{configDigest}");
        try
        {
            return ImageConfig.Parse(raw.Body);
        }
        catch (JsonException e)
        {
            return new RegistryError(RegistryErrorKind.InvalidResponse, $"registry {repository.Registry} sent an unreadable config {configDigest}: {e.Message}");
        }
    }

    /// <summary>Every tag of the repository, following <c>Link</c> pagination (<c>n</c>, <c>last</c>) to the end.</summary>
    public async Task<RegistryResult<IReadOnlyList<string>>> ListTagsAsync(ImageReference repository, CancellationToken cancellationToken)
    {
        var tags = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        string? next = $"/v2/{repository.Repository}/tags/list?n={_options.TagPageSize}";
        while (next is not null)
        {
            if (!seen.Add(next))
                return new RegistryError(RegistryErrorKind.InvalidResponse, $"registry {repository.Registry} sent a tag page link that loops ({next})");
            var pageUrl = next;
            var response = await SendAsync(repository, "tag list", baseUri => new HttpRequestMessage(HttpMethod.Get, new Uri(baseUri, pageUrl)), cancellationToken);
            if (!response.IsSuccess) return response.Error;
            var raw = response.Value;
            if (!raw.IsSuccess) return ErrorFrom(raw, repository.Registry, $"tags of {repository.Repository}");
            try
            {
                using var doc = JsonDocument.Parse(raw.Body);
                if (doc.RootElement.TryGetProperty("tags", out var array) && array.ValueKind == JsonValueKind.Array)
                    foreach (var tag in array.EnumerateArray())
                        if (tag.GetString() is { } t) tags.Add(t);
            }
            catch (JsonException e)
            {
                return new RegistryError(RegistryErrorKind.InvalidResponse, $"registry {repository.Registry} sent an unreadable tag list: {e.Message}");
            }
            next = NextLink(raw);
        }
        return tags;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _secure.Dispose();
        if (!ReferenceEquals(_secure, _insecure)) _insecure.Dispose();
    }

    private static SocketsHttpHandler CreateHandler(bool verifyTls)
    {
        var handler = new SocketsHttpHandler
        {
            AutomaticDecompression = DecompressionMethods.All,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            MaxConnectionsPerServer = 64,
        };
        if (!verifyTls)
#pragma warning disable CA5359 // This handler only ever talks to registries the user listed as insecure.
            handler.SslOptions.RemoteCertificateValidationCallback = static (_, _, _, _) => true;
#pragma warning restore CA5359
        return handler;
    }

    private static HttpRequestMessage ManifestRequest(HttpMethod method, Uri baseUri, string repository, string identifier)
    {
        var request = new HttpRequestMessage(method, new Uri(baseUri, $"/v2/{repository}/manifests/{identifier}"));
        foreach (var mediaType in MediaTypes.AllManifests)
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(mediaType));
        return request;
    }

    private static string? NextLink(RawResponse raw)
    {
        if (!raw.Headers.TryGetValues("Link", out var values)) return null;
        foreach (var value in values)
        {
            foreach (var part in value.Split(','))
            {
                var start = part.IndexOf('<', StringComparison.Ordinal);
                var end = part.IndexOf('>', StringComparison.Ordinal);
                if (start >= 0 && end > start && part.Contains("rel=\"next\"", StringComparison.OrdinalIgnoreCase))
                    return part[(start + 1)..end];
            }
        }
        return null;
    }

    private static bool IsLoopback(string host)
    {
        var name = host.StartsWith('[') ? host[..(host.IndexOf(']', StringComparison.Ordinal) + 1)] : host.Split(':')[0];
        return name is "localhost" or "[::1]" || name.StartsWith("127.", StringComparison.Ordinal);
    }

    private RegistryHost HostFor(ImageReference reference) =>
        _hosts.GetOrAdd(reference.Registry, _ => new RegistryHost(reference.Registry, reference.ApiHost, _options.MaxConcurrencyPerRegistry)
        {
            Insecure = _insecureHosts.Contains(reference.Registry.ToLowerInvariant()) || _insecureHosts.Contains(reference.ApiHost.ToLowerInvariant()),
        });

    /// <summary>
    /// One registry call: authenticated, retried, and bounded per registry; a 401 re-reads the challenge once.
    /// Pings and token requests happen outside the registry's concurrency gate: they go to the
    /// token service (another host) or happen once, and must not hold a slot meant for the registry.
    /// </summary>
    private async Task<RegistryResult<RawResponse>> SendAsync(ImageReference reference, string what, Func<Uri, HttpRequestMessage> build, CancellationToken cancellationToken)
    {
        var host = HostFor(reference);
        var ping = await EnsurePingedAsync(host, cancellationToken);
        if (ping is not null) return ping;
        var client = host.Insecure ? _insecure : _secure;
        var scope = $"repository:{reference.Repository}:pull";
        for (var round = 0; ; round++)
        {
            var authorization = await AuthorizationAsync(host, scope, cancellationToken);
            if (!authorization.IsSuccess) return authorization.Error;
            var header = authorization.Value.Header;
            RegistryResult<RawResponse> result;
            await host.Gate.WaitAsync(cancellationToken);
            try
            {
                result = await SendWithRetryAsync(client, host.Registry, what, () =>
                {
                    var request = build(host.BaseUri!);
                    request.Headers.Authorization = header;
                    return request;
                }, _options.MaxAttempts, cancellationToken);
            }
            finally
            {
                host.Gate.Release();
            }
            if (!result.IsSuccess) return result;
            if (result.Value.StatusCode != HttpStatusCode.Unauthorized || round > 0) return result;

            // A 401 means the token expired early or the registry wants another scope: re-read its challenge once.
            if (AuthChallenge.From(result.Value.Headers) is not { } challenge) return result;
            host.Challenge = challenge;
            if (challenge.Parameters.TryGetValue("scope", out var asked) && asked.Length > 0) scope = asked;
            if (host.Tokens.TryGetValue(scope, out var slot)) slot.Token = null;
        }
    }

    private async Task<RegistryError?> EnsurePingedAsync(RegistryHost host, CancellationToken cancellationToken)
    {
        if (host.BaseUri is not null) return null;
        await host.PingLock.WaitAsync(cancellationToken);
        try
        {
            if (host.BaseUri is not null) return null;
            if (host.PingFailure is not null && _time.GetUtcNow() < host.PingFailureUntil) return host.PingFailure;

            string[] schemes = IsLoopback(host.ApiHost) && !host.Insecure ? ["http"] : host.Insecure ? ["https", "http"] : ["https"];
            RegistryError? failure = null;
            for (var i = 0; i < schemes.Length; i++)
            {
                var baseUri = new Uri($"{schemes[i]}://{host.ApiHost}/");
                var last = i == schemes.Length - 1;
                var result = await SendWithRetryAsync(host.Insecure ? _insecure : _secure, host.Registry, "ping",
                    () => new HttpRequestMessage(HttpMethod.Get, new Uri(baseUri, "/v2/")), last ? _options.MaxAttempts : 1, cancellationToken);
                if (!result.IsSuccess)
                {
                    failure = result.Error;
                    if (result.Error.Kind is RegistryErrorKind.Network or RegistryErrorKind.Timeout && !last) continue;
                    break;
                }
                var raw = result.Value;
                if (raw.StatusCode == HttpStatusCode.Unauthorized)
                    host.Challenge = AuthChallenge.From(raw.Headers);
                else if (!raw.IsSuccess && raw.StatusCode != HttpStatusCode.NotFound)
                {
                    failure = ErrorFrom(raw, host.Registry, "the API root /v2/");
                    break;
                }
                host.BaseUri = baseUri;
                host.PingFailure = null;
                Log.Pinged(_logger, host.Registry, baseUri, host.Challenge?.Scheme ?? "none");
                return null;
            }
            host.PingFailure = failure;
            host.PingFailureUntil = _time.GetUtcNow() + PingFailureMemory;
            return failure;
        }
        finally
        {
            host.PingLock.Release();
        }
    }

    private readonly record struct AuthHeader(AuthenticationHeaderValue? Header);

    private async Task<RegistryResult<AuthHeader>> AuthorizationAsync(RegistryHost host, string scope, CancellationToken cancellationToken)
    {
        var challenge = host.Challenge;
        if (challenge is null) return new AuthHeader(null);
        var credential = await CredentialAsync(host, cancellationToken);
        if (challenge.IsBasic)
        {
            return credential is { Username.Length: > 0 }
                ? new AuthHeader(new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{credential.Username}:{credential.Password}"))))
                : new AuthHeader(null);
        }

        var slot = host.Tokens.GetOrAdd(scope, _ => new TokenSlot());
        if (slot.Token is { } cached && _time.GetUtcNow() < slot.ExpiresAt) return new AuthHeader(new AuthenticationHeaderValue("Bearer", cached));
        await slot.Lock.WaitAsync(cancellationToken);
        try
        {
            if (slot.Token is { } fresh && _time.GetUtcNow() < slot.ExpiresAt) return new AuthHeader(new AuthenticationHeaderValue("Bearer", fresh));
            var token = await FetchTokenAsync(host, challenge, scope, credential, cancellationToken);
            if (!token.IsSuccess) return token.Error;
            slot.Token = token.Value.Token;
            // Renew a little early so a token never expires between our check and the registry's.
            var lifetime = TimeSpan.FromSeconds(Math.Max(token.Value.ExpiresIn, 1));
            slot.ExpiresAt = _time.GetUtcNow() + lifetime - TimeSpan.FromSeconds(Math.Min(10, lifetime.TotalSeconds / 10));
            Log.TokenIssued(_logger, host.Registry, scope, (long)lifetime.TotalSeconds);
            return new AuthHeader(new AuthenticationHeaderValue("Bearer", slot.Token));
        }
        finally
        {
            slot.Lock.Release();
        }
    }

    private async Task<RegistryCredential?> CredentialAsync(RegistryHost host, CancellationToken cancellationToken)
    {
        if (host.CredentialLoaded || _options.Credentials is null) return host.Credential;
        await host.CredentialLock.WaitAsync(cancellationToken);
        try
        {
            if (host.CredentialLoaded) return host.Credential;
            try
            {
                host.Credential = await _options.Credentials.GetAsync(host.Registry, cancellationToken);
            }
            catch (Exception e) when (e is InvalidOperationException or IOException or JsonException or UnauthorizedAccessException)
            {
                // A broken helper or config file must not stop anonymous pulls of public images.
                Log.CredentialFailed(_logger, host.Registry, e.Message);
            }
            host.CredentialLoaded = true;
            return host.Credential;
        }
        finally
        {
            host.CredentialLock.Release();
        }
    }

    private readonly record struct IssuedToken(string Token, double ExpiresIn);

    private async Task<RegistryResult<IssuedToken>> FetchTokenAsync(RegistryHost host, AuthChallenge challenge, string scope, RegistryCredential? credential, CancellationToken cancellationToken)
    {
        if (challenge.Realm is not { } realm || !Uri.TryCreate(realm, UriKind.Absolute, out var realmUri) || realmUri.Scheme is not ("https" or "http"))
            return new RegistryError(RegistryErrorKind.InvalidResponse, $"registry {host.Registry} sent a Bearer challenge without a usable realm");
        if (realmUri.Scheme == "http" && !IsLoopback(realmUri.Authority) && !host.Insecure)
            return new RegistryError(RegistryErrorKind.InvalidResponse, $"registry {host.Registry} asks for credentials over plain HTTP ({realmUri.Authority}); list it as insecure to allow that");
        var realmClient = _insecureHosts.Contains(realmUri.Authority.ToLowerInvariant()) || host.Insecure ? _insecure : _secure;
        var service = challenge.Service;

        Func<HttpRequestMessage> build;
        if (credential?.IdentityToken is { Length: > 0 } refreshToken)
        {
            var form = new List<KeyValuePair<string, string>>
            {
                new("grant_type", "refresh_token"), new("refresh_token", refreshToken), new("client_id", "tiaki"), new("scope", scope),
            };
            if (service is not null) form.Add(new("service", service));
            build = () => new HttpRequestMessage(HttpMethod.Post, realmUri) { Content = new FormUrlEncodedContent(form) };
        }
        else
        {
            var query = new StringBuilder(realmUri.Query.Length > 1 ? realmUri.Query[1..] + "&" : "");
            if (service is not null) query.Append("service=").Append(Uri.EscapeDataString(service)).Append('&');
            query.Append("scope=").Append(Uri.EscapeDataString(scope));
            var uri = new UriBuilder(realmUri) { Query = query.ToString() }.Uri;
            var basic = credential is { Username.Length: > 0 }
                ? new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{credential.Username}:{credential.Password}")))
                : null;
            build = () => new HttpRequestMessage(HttpMethod.Get, uri) { Headers = { Authorization = basic } };
        }

        var result = await SendWithRetryAsync(realmClient, host.Registry, "token request", build, _options.MaxAttempts, cancellationToken);
        if (!result.IsSuccess) return result.Error;
        var raw = result.Value;
        if (raw.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            return new RegistryError(RegistryErrorKind.Unauthorized,
                $"token service of {host.Registry} refused {(credential is null ? "anonymous access" : $"the credentials of user \"{credential.Username}\"")} to {scope} ({(int)raw.StatusCode})", raw.StatusCode);
        if (!raw.IsSuccess) return ErrorFrom(raw, host.Registry, "a token");
        try
        {
            using var doc = JsonDocument.Parse(raw.Body);
            var root = doc.RootElement;
            var token = root.TryGetProperty("token", out var t) && t.GetString() is { Length: > 0 } tv ? tv
                : root.TryGetProperty("access_token", out var a) && a.GetString() is { Length: > 0 } av ? av : null;
            if (token is null)
                return new RegistryError(RegistryErrorKind.InvalidResponse, $"token service of {host.Registry} answered without a token");
            // The spec's default lifetime when expires_in is absent is 60 seconds.
            var expiresIn = root.TryGetProperty("expires_in", out var e) && e.TryGetDouble(out var seconds) && seconds > 0 ? seconds : 60;
            return new IssuedToken(token, expiresIn);
        }
        catch (JsonException e)
        {
            return new RegistryError(RegistryErrorKind.InvalidResponse, $"token service of {host.Registry} sent unreadable JSON: {e.Message}");
        }
    }

    /// <summary>Sends and reads one response, retrying 429 (honouring Retry-After), 5xx, timeouts and network errors.</summary>
    private async Task<RegistryResult<RawResponse>> SendWithRetryAsync(HttpClient client, string registry, string what, Func<HttpRequestMessage> build, int maxAttempts, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            RegistryError? failure;
            TimeSpan? retryAfter = null;
            using var timeout = new CancellationTokenSource(_options.RequestTimeout, _time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
            try
            {
                using var request = build();
                using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, linked.Token);
                var status = (int)response.StatusCode;
                if (status == 429 || status is 500 or 502 or 503 or 504)
                {
                    failure = status == 429
                        ? new RegistryError(RegistryErrorKind.RateLimited, $"registry {registry} rate-limited {what} (429)", response.StatusCode)
                        : new RegistryError(RegistryErrorKind.ServerError, $"registry {registry} failed {what} with {status}", response.StatusCode);
                    retryAfter = RetryAfter(response.Headers);
                }
                else
                {
                    if (response.Content.Headers.ContentLength > MaxBodyBytes)
                        return new RegistryError(RegistryErrorKind.InvalidResponse, $"registry {registry} sent {response.Content.Headers.ContentLength} bytes for {what}, more than this client reads");
                    if (request.Method != HttpMethod.Head)
                    {
                        // Chunked bodies carry no Content-Length: cap what is buffered all the same.
                        await response.Content.LoadIntoBufferAsync(MaxBodyBytes, linked.Token);
                    }
                    var body = request.Method == HttpMethod.Head ? [] : await response.Content.ReadAsByteArrayAsync(linked.Token);
                    return new RawResponse(response.StatusCode, response.Headers, response.Content.Headers.ContentType?.ToString(), response.Content.Headers.ContentLength, body);
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                failure = new RegistryError(RegistryErrorKind.Timeout, $"registry {registry} did not answer {what} within {_options.RequestTimeout.TotalSeconds:0.#} s");
            }
            catch (HttpRequestException e)
            {
                failure = new RegistryError(RegistryErrorKind.Network, $"registry {registry} unreachable for {what}: {e.Message}");
            }

            if (attempt >= maxAttempts) return failure;
            var backoff = Backoff(attempt, retryAfter);
            Log.Retrying(_logger, registry, what, failure.Message, attempt, (long)backoff.TotalMilliseconds);
            await Task.Delay(backoff, _time, cancellationToken);
        }
    }

    private TimeSpan Backoff(int attempt, TimeSpan? retryAfter)
    {
        if (retryAfter is { } asked)
            return asked > _options.MaxBackoff ? _options.MaxBackoff : asked;
        var exponential = _options.InitialBackoff.TotalMilliseconds * Math.Pow(2, attempt - 1);
        // Full jitter between half and the whole delay keeps many agents from retrying in lockstep.
        var jittered = exponential * (0.5 + Random.Shared.NextDouble() / 2);
        return TimeSpan.FromMilliseconds(Math.Min(jittered, _options.MaxBackoff.TotalMilliseconds));
    }

    private TimeSpan? RetryAfter(HttpResponseHeaders headers)
    {
        if (headers.RetryAfter is not { } retry) return null;
        if (retry.Delta is { } delta) return delta;
        if (retry.Date is { } date)
        {
            var wait = date - _time.GetUtcNow();
            return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        }
        return null;
    }

    private static RegistryError ErrorFrom(RawResponse raw, string registry, string what)
    {
        var detail = "";
        if (raw.Body.Length > 0)
        {
            try
            {
                using var doc = JsonDocument.Parse(raw.Body);
                if (doc.RootElement.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Array)
                    detail = string.Join("; ", errors.EnumerateArray().Select(e =>
                        $"{(e.TryGetProperty("code", out var c) ? c.GetString() : "")} {(e.TryGetProperty("message", out var m) ? m.GetString() : "")}".Trim()));
            }
            catch (JsonException)
            {
                // Not the registry's JSON error format (a proxy's HTML page): the status says enough.
            }
        }
        var status = (int)raw.StatusCode;
        var kind = raw.StatusCode switch
        {
            HttpStatusCode.NotFound => RegistryErrorKind.NotFound,
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => RegistryErrorKind.Unauthorized,
            _ when status >= 500 => RegistryErrorKind.ServerError,
            _ => RegistryErrorKind.Other,
        };
        var message = kind switch
        {
            RegistryErrorKind.NotFound => $"{what} not found on {registry}",
            RegistryErrorKind.Unauthorized => $"registry {registry} refused access to {what} ({status}); check the credentials for {registry}",
            _ => $"registry {registry} answered {status} for {what}",
        };
        return new RegistryError(kind, detail.Length > 0 ? $"{message}: {detail}" : message, raw.StatusCode);
    }
}
