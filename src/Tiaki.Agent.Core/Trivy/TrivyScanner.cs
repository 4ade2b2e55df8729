using System.Text.Json;
using System.Text.Json.Serialization;
using Tiaki.Agent.Core.Processes;
using Tiaki.Contracts;

namespace Tiaki.Agent.Core.Trivy;

public sealed record TrivySettings(bool Enabled, string Executable = "trivy", TimeSpan? Timeout = null);

public sealed record TrivyVulnerability(string VulnerabilityID, string? PkgName, string? InstalledVersion, string? FixedVersion, string? Severity, string? Title);

public sealed record TrivyResult(string? Target, string? Class, string? Type, IReadOnlyList<TrivyVulnerability>? Vulnerabilities);

public sealed record TrivyReport(int SchemaVersion, string? ArtifactName, IReadOnlyList<TrivyResult>? Results);

[JsonSerializable(typeof(TrivyReport))]
internal sealed partial class TrivyJsonContext : JsonSerializerContext;

/// <summary>Scans an image with the trivy CLI and compares a candidate with the running image.</summary>
public sealed class TrivyScanner(IProcessRunner runner, TrivySettings settings)
{
    public bool Enabled => settings.Enabled;

    /// <summary>The report, or the reason trivy could not scan (an expected failure, not an exception).</summary>
    public async Task<(TrivyReport? Report, string? Error)> ScanAsync(string image, CancellationToken ct)
    {
        var result = await runner.RunAsync(new ProcessSpec(settings.Executable, ["image", "--format", "json", "--quiet", image])
        {
            Timeout = settings.Timeout ?? TimeSpan.FromMinutes(10),
        }, ct);
        if (!result.Succeeded) return (null, result.Describe("trivy"));
        return Parse(result.StandardOutput);
    }

    public static (TrivyReport? Report, string? Error) Parse(string json)
    {
        try
        {
            var report = JsonSerializer.Deserialize(json, TrivyJsonContext.Default.TrivyReport);
            return report is null ? (null, "trivy printed no report") : (report, null);
        }
        catch (JsonException ex)
        {
            return (null, $"trivy printed JSON this agent cannot read: {ex.Message}");
        }
    }

    /// <summary>Scans the candidate (and the running image, to tell fixed from new) into the wire report.</summary>
    public async Task<(VulnerabilityReport? Report, string? Error)> CompareAsync(string candidateImage, string? currentImage, CancellationToken ct)
    {
        var (candidate, error) = await ScanAsync(candidateImage, ct);
        if (candidate is null) return (null, error);
        TrivyReport? current = null;
        if (currentImage is not null) (current, _) = await ScanAsync(currentImage, ct);
        return (Compare(candidate, current), null);
    }

    public static VulnerabilityReport Compare(TrivyReport candidate, TrivyReport? current)
    {
        var cand = Index(candidate);
        var report = new VulnerabilityReport(Count(cand.Values));
        if (current is null) return report;
        var cur = Index(current);
        var introduced = cand.Where(kv => !cur.ContainsKey(kv.Key)).ToList();
        var fixedOnes = cur.Where(kv => !cand.ContainsKey(kv.Key)).ToList();
        return report with
        {
            Current = Count(cur.Values),
            Introduced = Count(introduced.Select(kv => kv.Value)),
            Fixed = Count(fixedOnes.Select(kv => kv.Value)),
            IntroducedIds = introduced.Select(kv => kv.Value.VulnerabilityID).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList(),
            FixedIds = fixedOnes.Select(kv => kv.Value.VulnerabilityID).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList(),
        };
    }

    // One finding per (id, package): trivy lists a CVE once per affected package and target.
    private static Dictionary<(string Id, string Pkg), TrivyVulnerability> Index(TrivyReport report)
    {
        var d = new Dictionary<(string, string), TrivyVulnerability>();
        foreach (var r in report.Results ?? [])
        {
            foreach (var v in r.Vulnerabilities ?? [])
                d.TryAdd((v.VulnerabilityID, v.PkgName ?? ""), v);
        }
        return d;
    }

    private static SeverityCounts Count(IEnumerable<TrivyVulnerability> vulns)
    {
        int c = 0, h = 0, m = 0, l = 0, u = 0;
        foreach (var v in vulns)
        {
            switch (v.Severity?.ToUpperInvariant())
            {
                case "CRITICAL": c++; break;
                case "HIGH": h++; break;
                case "MEDIUM": m++; break;
                case "LOW": l++; break;
                default: u++; break;
            }
        }
        return new SeverityCounts(c, h, m, l, u);
    }
}
