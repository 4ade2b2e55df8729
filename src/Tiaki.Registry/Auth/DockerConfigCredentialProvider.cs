using System.ComponentModel;
using System.Text;
using System.Text.Json;

namespace Tiaki.Registry.Auth;

/// <summary>
/// Reads credentials the way the docker CLI stores them in <c>config.json</c>: <c>auths</c> entries
/// (base64 <c>auth</c>, or <c>username</c>/<c>password</c>, and <c>identitytoken</c>), per-registry
/// <c>credHelpers</c> and the default <c>credsStore</c>, the latter two by running
/// <c>docker-credential-NAME get</c>.
/// </summary>
public sealed class DockerConfigCredentialProvider : IRegistryCredentialProvider
{
    private readonly string _path;
    private readonly IProcessRunner _runner;
    private readonly TimeSpan _helperTimeout;
    private readonly Lazy<ConfigFile?> _config;

    /// <summary>Creates a provider over the config file at <paramref name="path"/> (a missing file means no credentials).</summary>
    public DockerConfigCredentialProvider(string path, IProcessRunner? runner = null, TimeSpan? helperTimeout = null)
    {
        _path = path;
        _runner = runner ?? new ProcessRunner();
        _helperTimeout = helperTimeout ?? TimeSpan.FromSeconds(10);
        _config = new Lazy<ConfigFile?>(Load);
    }

    /// <summary><c>REGISTRY_AUTH_FILE</c> when set, else <c>$DOCKER_CONFIG/config.json</c>, else <c>~/.docker/config.json</c>.</summary>
    public static string DefaultPath(Func<string, string?> environment)
    {
        if (environment("REGISTRY_AUTH_FILE") is { Length: > 0 } authFile) return authFile;
        if (environment("DOCKER_CONFIG") is { Length: > 0 } dir) return Path.Combine(dir, "config.json");
        return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".docker", "config.json");
    }

    /// <inheritdoc />
    public async ValueTask<RegistryCredential?> GetAsync(string registry, CancellationToken cancellationToken)
    {
        var config = _config.Value;
        if (config is null) return null;
        var key = RegistryKeys.Normalize(registry);

        if (config.CredHelpers.TryGetValue(key, out var helper))
            return await FromHelperAsync(helper, key, cancellationToken);
        if (config.Auths.TryGetValue(key, out var entry) && entry is not null)
            return entry;
        if (config.CredsStore is { Length: > 0 } store)
            return await FromHelperAsync(store, key, cancellationToken);
        return null;
    }

    private async Task<RegistryCredential?> FromHelperAsync(string helper, string key, CancellationToken cancellationToken)
    {
        var serverUrl = key == "docker.io" ? RegistryKeys.DockerHubConfigKey : key;
        ProcessResult result;
        try
        {
            result = await _runner.RunAsync("docker-credential-" + helper, ["get"], serverUrl, _helperTimeout, cancellationToken);
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException($"credential helper docker-credential-{helper} could not be started: {e.Message}", e);
        }
        if (result.TimedOut)
            throw new InvalidOperationException($"credential helper docker-credential-{helper} did not answer within {_helperTimeout.TotalSeconds:0}s");
        // Helpers exit non-zero with "credentials not found" when they have nothing: that is anonymous, not a failure.
        if (result.ExitCode != 0)
            return null;
        using var doc = JsonDocument.Parse(result.StandardOutput);
        var username = doc.RootElement.TryGetProperty("Username", out var u) ? u.GetString() ?? "" : "";
        var secret = doc.RootElement.TryGetProperty("Secret", out var s) ? s.GetString() ?? "" : "";
        return username == "<token>" ? new RegistryCredential("", "", secret) : new RegistryCredential(username, secret);
    }

    private ConfigFile? Load()
    {
        if (!File.Exists(_path)) return null;
        using var doc = JsonDocument.Parse(File.ReadAllBytes(_path));
        var root = doc.RootElement;
        var config = new ConfigFile();
        if (root.TryGetProperty("auths", out var auths) && auths.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in auths.EnumerateObject())
                config.Auths[RegistryKeys.Normalize(property.Name)] = ParseAuth(property.Value);
        }
        if (root.TryGetProperty("credHelpers", out var helpers) && helpers.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in helpers.EnumerateObject())
                if (property.Value.GetString() is { Length: > 0 } name)
                    config.CredHelpers[RegistryKeys.Normalize(property.Name)] = name;
        }
        if (root.TryGetProperty("credsStore", out var store) && store.ValueKind == JsonValueKind.String)
            config.CredsStore = store.GetString();
        return config;
    }

    private static RegistryCredential? ParseAuth(JsonElement entry)
    {
        if (entry.ValueKind != JsonValueKind.Object) return null;
        string? username = Get(entry, "username"), password = Get(entry, "password");
        var identityToken = Get(entry, "identitytoken");
        if (Get(entry, "auth") is { Length: > 0 } auth)
        {
            string decoded;
            try
            {
                decoded = Encoding.UTF8.GetString(Convert.FromBase64String(auth));
            }
            catch (FormatException)
            {
                return null; // unusable entry: treated as absent rather than sending garbage
            }
            var colon = decoded.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
            {
                username = decoded[..colon];
                password = decoded[(colon + 1)..];
            }
        }
        if (identityToken is { Length: > 0 })
            return new RegistryCredential(username ?? "", password ?? "", identityToken);
        return username is { Length: > 0 } ? new RegistryCredential(username, password ?? "") : null;
    }

    private static string? Get(JsonElement entry, string name) =>
        entry.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private sealed class ConfigFile
    {
        public Dictionary<string, RegistryCredential?> Auths { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, string> CredHelpers { get; } = new(StringComparer.Ordinal);
        public string? CredsStore { get; set; }
    }
}
