using System.Collections;
using System.Globalization;
using System.Text.RegularExpressions;
using Tiaki.Agent.Core.Updates;

namespace Tiaki.Agent.Core.Configuration;

/// <summary>The agent's settings, from environment variables with the names users know.</summary>
public sealed partial record AgentOptions
{
    public required Uri ControlUrl { get; init; }
    public string? ApiKey { get; init; }
    public string? EnrollmentToken { get; init; }
    public required string AgentName { get; init; }
    public required string StateDirectory { get; init; }
    public TimeSpan ScanInterval { get; init; } = TimeSpan.FromMinutes(5);
    public bool TrivyEnabled { get; init; }
    public string TrivyPath { get; init; } = "trivy";
    public string? RegistryAuthFile { get; init; }
    public TimeSpan HealthTimeout { get; init; } = TimeSpan.FromSeconds(30);
    public bool GitCommit { get; init; } = true;
    public string GitAuthorName { get; init; } = "Tiaki";
    public string GitAuthorEmail { get; init; } = "tiaki@localhost";
    public string DockerHost { get; init; } = "unix:///var/run/docker.sock";

    /// <summary>How registries are reached for update checks (the <c>REGISTRY_*</c> variables).</summary>
    public UpdateCheckerOptions Registry { get; init; } = new();

    /// <summary>
    /// Reads and validates every setting; on failure the list names every bad variable, so a user
    /// fixes them all in one go instead of one per restart.
    /// </summary>
    public static (AgentOptions? Options, IReadOnlyList<string> Errors) FromEnvironment(IDictionary environment, Func<string, bool>? stateHasKey = null)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (DictionaryEntry e in environment)
        {
            if (e.Key is string k && e.Value is string v && v.Length > 0) env[k] = v;
        }
        var errors = new List<string>();

        Uri? control = null;
        if (!env.TryGetValue("CONTROL_URL", out var controlText)) errors.Add("CONTROL_URL: required (the control plane's address, e.g. http://tiaki:3001)");
        else if (!Uri.TryCreate(controlText, UriKind.Absolute, out control) || (control.Scheme != Uri.UriSchemeHttp && control.Scheme != Uri.UriSchemeHttps))
            errors.Add($"CONTROL_URL: '{controlText}' is not an absolute http(s) URL");

        var stateDir = env.GetValueOrDefault("AGENT_STATE_DIR") ?? "/var/lib/tiaki-agent";
        if (!Path.IsPathRooted(stateDir)) errors.Add($"AGENT_STATE_DIR: '{stateDir}' must be an absolute path");

        env.TryGetValue("AGENT_API_KEY", out var apiKey);
        env.TryGetValue("TIAKI_ENROLLMENT_TOKEN", out var enrollment);
        var name = env.GetValueOrDefault("AGENT_NAME") ?? Environment.MachineName;
        if (apiKey is null && enrollment is null && !(stateHasKey?.Invoke(stateDir) ?? false))
            errors.Add("AGENT_API_KEY: required, or TIAKI_ENROLLMENT_TOKEN (with AGENT_NAME) to register this agent once");
        if (name.Length is 0 or > 100 || name.Any(char.IsControl)) errors.Add("AGENT_NAME: must be 1-100 printable characters");

        var scan = Duration(env, "SCAN_INTERVAL", TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(10), errors);
        var health = Duration(env, "HEALTH_TIMEOUT", TimeSpan.FromSeconds(30), TimeSpan.Zero, errors);
        var trivy = Bool(env, "TRIVY_ENABLED", false, errors);
        var git = Bool(env, "GIT_COMMIT", true, errors);

        var authFile = env.GetValueOrDefault("REGISTRY_AUTH_FILE");
        if (authFile is not null && !File.Exists(authFile)) errors.Add($"REGISTRY_AUTH_FILE: file '{authFile}' does not exist");

        var authorName = env.GetValueOrDefault("GIT_AUTHOR_NAME") ?? "Tiaki";
        if (authorName.Any(char.IsControl) || authorName.IndexOfAny(['<', '>']) >= 0) errors.Add("GIT_AUTHOR_NAME: must not contain control characters or < >");
        var authorEmail = env.GetValueOrDefault("GIT_AUTHOR_EMAIL") ?? "tiaki@localhost";
        if (!EmailPattern().IsMatch(authorEmail)) errors.Add($"GIT_AUTHOR_EMAIL: '{authorEmail}' is not an e-mail address");

        var dockerHost = env.GetValueOrDefault("DOCKER_HOST") ?? "unix:///var/run/docker.sock";
        if (!Uri.TryCreate(dockerHost, UriKind.Absolute, out var dh) || dh.Scheme is not ("unix" or "tcp" or "npipe" or "http" or "https"))
            errors.Add($"DOCKER_HOST: '{dockerHost}' is not a unix://, tcp:// or npipe:// address");

        var registry = UpdateCheckerOptions.FromEnvironment(env.GetValueOrDefault, out var registryErrors);
        errors.AddRange(registryErrors);

        if (errors.Count > 0) return (null, errors);
        return (new AgentOptions
        {
            ControlUrl = control!,
            ApiKey = apiKey,
            EnrollmentToken = enrollment,
            AgentName = name,
            StateDirectory = stateDir,
            ScanInterval = scan,
            HealthTimeout = health,
            TrivyEnabled = trivy,
            TrivyPath = env.GetValueOrDefault("TRIVY_PATH") ?? "trivy",
            RegistryAuthFile = authFile,
            GitCommit = git,
            GitAuthorName = authorName,
            GitAuthorEmail = authorEmail,
            DockerHost = dockerHost,
            Registry = registry,
        }, errors);
    }

    /// <summary>Accepts seconds ("300") or a number with a unit ("90s", "5m", "1h", "1d").</summary>
    internal static bool TryParseDuration(string text, out TimeSpan value)
    {
        value = default;
        var m = DurationPattern().Match(text.Trim());
        if (!m.Success) return false;
        var n = double.Parse(m.Groups["n"].Value, CultureInfo.InvariantCulture);
        value = m.Groups["u"].Value switch
        {
            "" or "s" => TimeSpan.FromSeconds(n),
            "ms" => TimeSpan.FromMilliseconds(n),
            "m" => TimeSpan.FromMinutes(n),
            "h" => TimeSpan.FromHours(n),
            _ => TimeSpan.FromDays(n),
        };
        return true;
    }

    private static TimeSpan Duration(Dictionary<string, string> env, string key, TimeSpan fallback, TimeSpan min, List<string> errors)
    {
        if (!env.TryGetValue(key, out var text)) return fallback;
        if (!TryParseDuration(text, out var value)) { errors.Add($"{key}: '{text}' is not a duration (e.g. 30s, 5m, 1h)"); return fallback; }
        if (value < min) { errors.Add($"{key}: must be at least {min.TotalSeconds}s"); return fallback; }
        return value;
    }

    private static bool Bool(Dictionary<string, string> env, string key, bool fallback, List<string> errors)
    {
        if (!env.TryGetValue(key, out var text)) return fallback;
        switch (text.Trim().ToUpperInvariant())
        {
            case "1" or "TRUE" or "YES" or "ON": return true;
            case "0" or "FALSE" or "NO" or "OFF": return false;
            default: errors.Add($"{key}: '{text}' is not true or false"); return fallback;
        }
    }

    [GeneratedRegex(@"^(?<n>\d+(\.\d+)?)(?<u>ms|s|m|h|d)?$")]
    private static partial Regex DurationPattern();

    [GeneratedRegex(@"^[^@\s<>]+@[^@\s<>]+$")]
    private static partial Regex EmailPattern();
}
