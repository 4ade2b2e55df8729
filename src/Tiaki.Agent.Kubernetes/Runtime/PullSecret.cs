using System.Text;
using System.Text.Json;
using Tiaki.Registry.Auth;

namespace Tiaki.Agent.Kubernetes.Runtime;

/// <summary>
/// Registry credentials in an image pull secret, the two ways kubelet reads them:
/// <c>kubernetes.io/dockerconfigjson</c> (a docker config.json with <c>auths</c>) and the older
/// <c>kubernetes.io/dockercfg</c> (the bare map of registries). Errors never quote the secret.
/// </summary>
internal static class PullSecret
{
    public const string DockerConfigJsonType = "kubernetes.io/dockerconfigjson";
    public const string DockerCfgType = "kubernetes.io/dockercfg";

    public static (IReadOnlyDictionary<string, RegistryCredential> Credentials, string? Error) Parse(string? type, IDictionary<string, byte[]>? data)
    {
        var (key, nested) = type switch
        {
            DockerConfigJsonType => (".dockerconfigjson", true),
            DockerCfgType => (".dockercfg", false),
            _ => ((string?)null, false),
        };
        if (key is null)
            return (Empty, $"type is '{type}', not {DockerConfigJsonType} or {DockerCfgType}");
        if (data is null || !data.TryGetValue(key, out var bytes) || bytes is null)
            return (Empty, $"has no {key} key");

        var credentials = new Dictionary<string, RegistryCredential>(StringComparer.OrdinalIgnoreCase);
        try
        {
            using var doc = JsonDocument.Parse(bytes);
            var registries = doc.RootElement;
            if (nested && (registries.ValueKind != JsonValueKind.Object || !registries.TryGetProperty("auths", out registries)))
                return (Empty, $"{key} has no auths object");
            if (registries.ValueKind != JsonValueKind.Object)
                return (Empty, $"{key} is not a JSON object of registries");
            foreach (var entry in registries.EnumerateObject())
            {
                if (Credential(entry.Value) is { } credential) credentials.TryAdd(entry.Name, credential);
            }
        }
        catch (JsonException)
        {
            return (Empty, $"{key} is not valid JSON");
        }

        return (credentials, credentials.Count == 0 ? $"{key} holds no usable credential" : null);
    }

    private static readonly Dictionary<string, RegistryCredential> Empty = new(StringComparer.Ordinal);

    private static RegistryCredential? Credential(JsonElement entry)
    {
        if (entry.ValueKind != JsonValueKind.Object) return null;
        var username = Get(entry, "username");
        var password = Get(entry, "password");
        // kubectl create secret docker-registry writes both forms; "auth" (base64 user:password) is what kubelet prefers.
        if (Get(entry, "auth") is { Length: > 0 } auth)
        {
            try
            {
                var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(auth));
                var colon = decoded.IndexOf(':', StringComparison.Ordinal);
                if (colon > 0) (username, password) = (decoded[..colon], decoded[(colon + 1)..]);
            }
            catch (FormatException)
            {
                // A broken auth field: fall back to username/password when present.
            }
        }

        if (Get(entry, "identitytoken") is { Length: > 0 } token)
            return new RegistryCredential(username ?? "", password ?? "", token);
        return username is { Length: > 0 } ? new RegistryCredential(username, password ?? "") : null;
    }

    private static string? Get(JsonElement entry, string name) =>
        entry.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
