using System.Collections.Concurrent;
using Tiaki.Registry.Auth;

namespace Tiaki.Registry.Transport;

/// <summary>What the client learned about one registry: its base URL, its auth challenge, its tokens and its credential.</summary>
internal sealed class RegistryHost(string registry, string apiHost, int maxConcurrency)
{
    public string Registry { get; } = registry;
    public string ApiHost { get; } = apiHost;
    public SemaphoreSlim Gate { get; } = new(maxConcurrency, maxConcurrency);
    public SemaphoreSlim PingLock { get; } = new(1, 1);
    public SemaphoreSlim CredentialLock { get; } = new(1, 1);

    public Uri? BaseUri { get; set; }
    public AuthChallenge? Challenge { get; set; }
    public RegistryError? PingFailure { get; set; }
    public DateTimeOffset PingFailureUntil { get; set; }
    public bool Insecure { get; set; }

    public bool CredentialLoaded { get; set; }
    public RegistryCredential? Credential { get; set; }

    public ConcurrentDictionary<string, TokenSlot> Tokens { get; } = new(StringComparer.Ordinal);
}

/// <summary>One bearer token per scope; the lock makes concurrent callers share a single token request.</summary>
internal sealed class TokenSlot
{
    public SemaphoreSlim Lock { get; } = new(1, 1);
    public string? Token { get; set; }
    public DateTimeOffset ExpiresAt { get; set; }
}

/// <summary>A fully read response: registry bodies (manifests, configs, tag pages) are small.</summary>
internal sealed record RawResponse(System.Net.HttpStatusCode StatusCode, System.Net.Http.Headers.HttpResponseHeaders Headers, string? ContentType, long? ContentLength, byte[] Body)
{
    public bool IsSuccess => (int)StatusCode is >= 200 and < 300;
    public string? Header(string name) => Headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;
}
