namespace Tiaki.Registry.Auth;

/// <summary>
/// A credential for one registry: username and password, or an identity (refresh) token.
/// <see cref="ToString"/> never prints the secret.
/// </summary>
/// <param name="Username">The user name (may be empty with an identity token).</param>
/// <param name="Password">The password or access token.</param>
/// <param name="IdentityToken">An OAuth2 refresh token (docker <c>identitytoken</c>), used instead of the password at the token endpoint.</param>
public sealed record RegistryCredential(string Username, string Password, string? IdentityToken = null)
{
    /// <inheritdoc />
    public override string ToString() => $"RegistryCredential {{ Username = {Username}, Password = ***{(IdentityToken is null ? "" : ", IdentityToken = ***")} }}";
}

/// <summary>Finds the credential for a registry. Each registry gets its own.</summary>
public interface IRegistryCredentialProvider
{
    /// <summary>The credential for <paramref name="registry"/> (as in a reference, e.g. <c>docker.io</c>), or null for anonymous access.</summary>
    ValueTask<RegistryCredential?> GetAsync(string registry, CancellationToken cancellationToken);
}

/// <summary>One credential for one registry, e.g. from <c>REGISTRY_USERNAME</c>/<c>REGISTRY_PASSWORD</c>.</summary>
public sealed class StaticCredentialProvider : IRegistryCredentialProvider
{
    private readonly string _registry;
    private readonly RegistryCredential _credential;

    /// <summary>Creates a provider answering <paramref name="credential"/> for <paramref name="registry"/> only.</summary>
    public StaticCredentialProvider(string registry, RegistryCredential credential)
    {
        _registry = RegistryKeys.Normalize(registry);
        _credential = credential;
    }

    /// <inheritdoc />
    public ValueTask<RegistryCredential?> GetAsync(string registry, CancellationToken cancellationToken) =>
        ValueTask.FromResult(RegistryKeys.Normalize(registry) == _registry ? _credential : null);
}

/// <summary>Asks each provider in turn and returns the first credential found.</summary>
public sealed class ChainedCredentialProvider : IRegistryCredentialProvider
{
    private readonly IRegistryCredentialProvider[] _providers;

    /// <summary>Creates a chain; earlier providers win.</summary>
    public ChainedCredentialProvider(params IRegistryCredentialProvider[] providers) => _providers = providers;

    /// <inheritdoc />
    public async ValueTask<RegistryCredential?> GetAsync(string registry, CancellationToken cancellationToken)
    {
        foreach (var provider in _providers)
            if (await provider.GetAsync(registry, cancellationToken) is { } credential)
                return credential;
        return null;
    }
}

internal static class RegistryKeys
{
    // Docker stores Hub credentials under its v1 URL; everything else under the bare host.
    public const string DockerHubConfigKey = "https://index.docker.io/v1/";

    /// <summary>Strips scheme and path so "https://ghcr.io/v2/" and "ghcr.io" compare equal; Hub aliases become docker.io.</summary>
    public static string Normalize(string key)
    {
        var k = key.Trim();
        var scheme = k.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0) k = k[(scheme + 3)..];
        var slash = k.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0) k = k[..slash];
        k = k.ToLowerInvariant();
        return k is "index.docker.io" or "registry-1.docker.io" or "registry.hub.docker.com" ? "docker.io" : k;
    }
}
