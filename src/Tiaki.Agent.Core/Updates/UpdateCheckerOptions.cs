using System.Globalization;
using Tiaki.Registry.Manifests;

namespace Tiaki.Agent.Core.Updates;

/// <summary>Settings of the <see cref="UpdateChecker"/>; <see cref="FromEnvironment"/> reads the <c>REGISTRY_*</c> variables.</summary>
public sealed class UpdateCheckerOptions
{
    /// <summary>docker config.json with credentials (<c>REGISTRY_AUTH_FILE</c>); null means <c>$DOCKER_CONFIG/config.json</c> or <c>~/.docker/config.json</c>.</summary>
    public string? AuthFile { get; init; }

    /// <summary>Registries reachable over plain HTTP or self-signed TLS (<c>REGISTRY_INSECURE</c>, comma-separated hosts).</summary>
    public IReadOnlyList<string> InsecureRegistries { get; init; } = [];

    /// <summary>Requests in flight per registry (<c>REGISTRY_CONCURRENCY</c>).</summary>
    public int ConcurrencyPerRegistry { get; init; } = 8;

    /// <summary>User for <see cref="CredentialsRegistry"/> (<c>REGISTRY_USERNAME</c>).</summary>
    public string? Username { get; init; }

    /// <summary>Password or token for <see cref="CredentialsRegistry"/> (<c>REGISTRY_PASSWORD</c>).</summary>
    public string? Password { get; init; }

    /// <summary>Which registry <see cref="Username"/>/<see cref="Password"/> are for (<c>REGISTRY_HOST</c>, default docker.io).</summary>
    public string CredentialsRegistry { get; init; } = "docker.io";

    /// <summary>Timeout of one registry request.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Attempts per registry call on 429/5xx/timeouts.</summary>
    public int MaxAttempts { get; init; } = 4;

    /// <summary>First retry delay (doubled each retry, jittered).</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Read the candidate's config for its changelog link and build time (a few more requests per update found).</summary>
    public bool FetchImageDetails { get; init; } = true;

    /// <summary>The platform whose manifest digest is compared for multi-arch images; defaults to this host's.</summary>
    public Platform Platform { get; init; } = Platform.Host;

    /// <summary>Reads <c>REGISTRY_AUTH_FILE</c>, <c>REGISTRY_INSECURE</c>, <c>REGISTRY_CONCURRENCY</c>, <c>REGISTRY_USERNAME</c>, <c>REGISTRY_PASSWORD</c> and <c>REGISTRY_HOST</c>; every bad one is listed in <paramref name="errors"/>.</summary>
    public static UpdateCheckerOptions FromEnvironment(Func<string, string?> environment, out IReadOnlyList<string> errors)
    {
        var list = new List<string>();
        var concurrency = 8;
        if (environment("REGISTRY_CONCURRENCY") is { Length: > 0 } c
            && (!int.TryParse(c, NumberStyles.None, CultureInfo.InvariantCulture, out concurrency) || concurrency < 1))
        {
            list.Add($"REGISTRY_CONCURRENCY=\"{c}\" must be a positive integer");
            concurrency = 8;
        }
        var options = new UpdateCheckerOptions
        {
            AuthFile = environment("REGISTRY_AUTH_FILE") is { Length: > 0 } f ? f : null,
            InsecureRegistries = (environment("REGISTRY_INSECURE") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            ConcurrencyPerRegistry = concurrency,
            Username = environment("REGISTRY_USERNAME") is { Length: > 0 } u ? u : null,
            Password = environment("REGISTRY_PASSWORD") is { Length: > 0 } p ? p : null,
            CredentialsRegistry = environment("REGISTRY_HOST") is { Length: > 0 } h ? h : "docker.io",
        };
        list.AddRange(options.Validate());
        errors = list;
        return options;
    }

    /// <summary>Every invalid setting, by the name users set it with.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Username is null != (Password is null))
            errors.Add("REGISTRY_USERNAME and REGISTRY_PASSWORD must be set together");
        foreach (var host in InsecureRegistries)
            if (host.Contains('/', StringComparison.Ordinal) || host.Contains(' ', StringComparison.Ordinal))
                errors.Add($"REGISTRY_INSECURE entry \"{host}\" must be a host or host:port");
        if (CredentialsRegistry.Contains('/', StringComparison.Ordinal) && !CredentialsRegistry.Contains("://", StringComparison.Ordinal))
            errors.Add($"REGISTRY_HOST=\"{CredentialsRegistry}\" must be a registry host such as ghcr.io");
        if (ConcurrencyPerRegistry < 1) errors.Add("REGISTRY_CONCURRENCY must be a positive integer");
        if (RequestTimeout <= TimeSpan.Zero) errors.Add($"{nameof(RequestTimeout)} must be positive");
        if (MaxAttempts < 1) errors.Add($"{nameof(MaxAttempts)} must be at least 1");
        return errors;
    }
}
