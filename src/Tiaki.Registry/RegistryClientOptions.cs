using Tiaki.Registry.Auth;

namespace Tiaki.Registry;

/// <summary>Settings of a <see cref="RegistryClient"/>.</summary>
public sealed class RegistryClientOptions
{
    /// <summary>
    /// Registries (host or host:port) that may be reached over plain HTTP or with TLS verification
    /// skipped. Loopback registries (<c>localhost</c>, <c>127.0.0.1</c>, <c>[::1]</c>) use plain HTTP
    /// as Docker does. Every other registry gets HTTPS with full verification.
    /// </summary>
    public IReadOnlyCollection<string> InsecureRegistries { get; init; } = [];

    /// <summary>Where credentials come from; none means anonymous access only.</summary>
    public IRegistryCredentialProvider? Credentials { get; init; }

    /// <summary>At most this many requests in flight per registry host.</summary>
    public int MaxConcurrencyPerRegistry { get; init; } = 8;

    /// <summary>Timeout of one HTTP request (each retry gets its own).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Attempts for one call when the registry answers 429, 5xx or times out.</summary>
    public int MaxAttempts { get; init; } = 4;

    /// <summary>First backoff delay; doubled each retry, with jitter.</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Longest wait between attempts, including a registry's <c>Retry-After</c>.</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Tags asked for per page of the tag list.</summary>
    public int TagPageSize { get; init; } = 1000;

    /// <summary>User-Agent sent to registries.</summary>
    public string UserAgent { get; init; } = "tiaki-registry/1.0";

    /// <summary>Lists every invalid setting by name; empty when all are valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (MaxConcurrencyPerRegistry < 1) errors.Add($"{nameof(MaxConcurrencyPerRegistry)} must be at least 1");
        if (RequestTimeout <= TimeSpan.Zero) errors.Add($"{nameof(RequestTimeout)} must be positive");
        if (MaxAttempts < 1) errors.Add($"{nameof(MaxAttempts)} must be at least 1");
        if (InitialBackoff < TimeSpan.Zero) errors.Add($"{nameof(InitialBackoff)} must not be negative");
        if (MaxBackoff < InitialBackoff) errors.Add($"{nameof(MaxBackoff)} must be at least {nameof(InitialBackoff)}");
        if (TagPageSize < 1) errors.Add($"{nameof(TagPageSize)} must be at least 1");
        foreach (var host in InsecureRegistries)
            if (string.IsNullOrWhiteSpace(host) || host.Contains('/', StringComparison.Ordinal))
                errors.Add($"{nameof(InsecureRegistries)} entry \"{host}\" must be host or host:port");
        return errors;
    }
}
