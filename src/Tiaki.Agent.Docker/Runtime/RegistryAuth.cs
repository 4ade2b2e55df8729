using System.Text;
using System.Text.Json;
using Docker.DotNet.Models;

namespace Tiaki.Agent.Docker.Runtime;

/// <summary>Credentials for pulls, from a Docker config.json (REGISTRY_AUTH_FILE).</summary>
internal sealed class RegistryAuth(string? authFile)
{
    public AuthConfig ForRepository(string repository)
    {
        var host = RegistryHost(repository);
        if (authFile is null || !File.Exists(authFile)) return new AuthConfig { ServerAddress = host };
        using var doc = JsonDocument.Parse(File.ReadAllText(authFile));
        if (!doc.RootElement.TryGetProperty("auths", out var auths)) return new AuthConfig { ServerAddress = host };
        string[] keys = host == "docker.io" ? ["https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io"] : [host, "https://" + host, "http://" + host];
        foreach (var entry in auths.EnumerateObject())
        {
            var key = entry.Name.TrimEnd('/');
            if (!keys.Any(k => string.Equals(k.TrimEnd('/'), key, StringComparison.OrdinalIgnoreCase))) continue;
            if (entry.Value.TryGetProperty("auth", out var auth) && auth.GetString() is { Length: > 0 } encoded)
            {
                var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(encoded));
                var colon = decoded.IndexOf(':', StringComparison.Ordinal);
                if (colon > 0) return new AuthConfig { Username = decoded[..colon], Password = decoded[(colon + 1)..], ServerAddress = host };
            }
            var user = entry.Value.TryGetProperty("username", out var u) ? u.GetString() : null;
            var pass = entry.Value.TryGetProperty("password", out var p) ? p.GetString() : null;
            if (user is not null) return new AuthConfig { Username = user, Password = pass, ServerAddress = host };
        }
        return new AuthConfig { ServerAddress = host };
    }

    internal static string RegistryHost(string repository)
    {
        var slash = repository.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0) return "docker.io";
        var first = repository[..slash];
        return first.Contains('.', StringComparison.Ordinal) || first.Contains(':', StringComparison.Ordinal) || first == "localhost" ? first : "docker.io";
    }
}
