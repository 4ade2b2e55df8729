using Microsoft.Extensions.Configuration;

namespace Tiaki.Agent.Kubernetes.Runtime;

/// <summary>Settings of the Kubernetes runtime, under the environment names users set in the Helm chart.</summary>
internal sealed class KubernetesRuntimeOptions
{
    /// <summary>Namespaces to watch; empty means every namespace (needs the cluster-scoped RBAC).</summary>
    public IReadOnlyList<string> WatchNamespaces { get; init; } = [];

    /// <summary>How long a rollout may take before the agent gives up and rolls back.</summary>
    public TimeSpan RolloutTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>How often rollout status is read while following a deploy.</summary>
    public TimeSpan RolloutPollInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Written into <c>tiaki.dev/updated-by</c> so cluster users see who changed the image.</summary>
    public string AgentName { get; init; } = "tiaki-agent-k8s";

    /// <summary>
    /// Reads WATCH_NAMESPACES, ROLLOUT_TIMEOUT, ROLLOUT_POLL_INTERVAL and AGENT_NAME; returns every bad
    /// key by name rather than stopping at the first. Parsed by hand because the reflection binder is
    /// not NativeAOT-safe.
    /// </summary>
    public static (KubernetesRuntimeOptions? Options, IReadOnlyList<string> Errors) FromConfiguration(IConfiguration configuration)
    {
        var errors = new List<string>();
        var namespaces = (configuration["WATCH_NAMESPACES"] ?? "")
            .Split([',', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Distinct(StringComparer.Ordinal)
            .ToList();
        foreach (var ns in namespaces.Where(n => !IsDns1123Label(n)))
        {
            errors.Add($"WATCH_NAMESPACES: '{ns}' is not a valid namespace name (lowercase letters, digits and '-', at most 63 characters)");
        }

        var timeout = ReadDuration(configuration, "ROLLOUT_TIMEOUT", TimeSpan.FromMinutes(10), errors);
        var poll = ReadDuration(configuration, "ROLLOUT_POLL_INTERVAL", TimeSpan.FromSeconds(2), errors);
        if (poll > timeout)
        {
            errors.Add("ROLLOUT_POLL_INTERVAL: must not be longer than ROLLOUT_TIMEOUT");
        }

        var name = configuration["AGENT_NAME"];
        return errors.Count > 0
            ? (null, errors)
            : (new KubernetesRuntimeOptions
            {
                WatchNamespaces = namespaces,
                RolloutTimeout = timeout,
                RolloutPollInterval = poll,
                AgentName = string.IsNullOrWhiteSpace(name) ? "tiaki-agent-k8s" : name,
            }, errors);
    }

    private static TimeSpan ReadDuration(IConfiguration configuration, string key, TimeSpan fallback, List<string> errors)
    {
        var raw = configuration[key];
        if (string.IsNullOrWhiteSpace(raw))
        {
            return fallback;
        }

        // Accept "90" (seconds), "90s", "5m", "1h" like the other agent settings, and "00:05:00".
        var value = raw.Trim();
        TimeSpan? parsed = value[^1] switch
        {
            's' when double.TryParse(value[..^1], System.Globalization.CultureInfo.InvariantCulture, out var s) => TimeSpan.FromSeconds(s),
            'm' when double.TryParse(value[..^1], System.Globalization.CultureInfo.InvariantCulture, out var m) => TimeSpan.FromMinutes(m),
            'h' when double.TryParse(value[..^1], System.Globalization.CultureInfo.InvariantCulture, out var h) => TimeSpan.FromHours(h),
            _ when double.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, out var plain) => TimeSpan.FromSeconds(plain),
            _ when TimeSpan.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, out var span) => span,
            _ => null,
        };
        if (parsed is not { } result || result <= TimeSpan.Zero)
        {
            errors.Add($"{key}: '{raw}' is not a positive duration (e.g. 90s, 5m)");
            return fallback;
        }

        return result;
    }

    private static bool IsDns1123Label(string value) =>
        value.Length is > 0 and <= 63
        && char.IsAsciiLetterOrDigit(value[0]) && char.IsAsciiLetterOrDigit(value[^1])
        && value.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-');
}
