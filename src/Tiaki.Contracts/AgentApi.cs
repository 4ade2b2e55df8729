using System.Text.Json.Serialization;

namespace Tiaki.Contracts;

// Wire types of the agent API (/api/v1). Field names and required-ness follow proto/api.yaml,
// which keeps every field of the original Tiaki agent API; fields we added are optional.

public static class AgentTypes
{
    public const string Vm = "vm";
    public const string Kubernetes = "k8s";
}

public sealed record RegisterAgentRequest(string Name, string Type, string? Description = null);

public sealed record RegisterAgentResponse(string AgentId, string ApiKey);

public sealed record SubmitReportRequest(
    IReadOnlyList<ContainerReport> Containers,
    IReadOnlyList<UpdateReport>? Updates = null);

/// <summary>One running container (Docker) or one container of a workload (Kubernetes).</summary>
public sealed record ContainerReport(
    string ContainerId,
    string Name,
    string Image,
    string Tag,
    string Digest,
    string? ComposeFile = null,
    string? ComposeService = null,
    string? Namespace = null)
{
    /// <summary>Compose project name (Docker agent, compose-managed containers).</summary>
    public string? ComposeProject { get; init; }

    /// <summary>Workload kind for the Kubernetes agent: Deployment, StatefulSet, DaemonSet, CronJob.</summary>
    public string? Workload { get; init; }

    /// <summary>Labels (Docker) or annotations (Kubernetes) relevant to Tiaki's policies.</summary>
    public IReadOnlyDictionary<string, string>? Labels { get; init; }

    /// <summary>Why the registry check failed for this container, if it did.</summary>
    public string? CheckError { get; init; }
}

public sealed record UpdateReport(
    string ContainerId,
    string CurrentTag,
    string LatestTag,
    string LatestDigest,
    string? ChangelogUrl = null)
{
    /// <summary>major, minor, patch or digest.</summary>
    public string? Bump { get; init; }

    /// <summary>When the candidate image was built (its config's created time), if known.</summary>
    public DateTimeOffset? ImageCreatedAt { get; init; }

    /// <summary>Vulnerabilities of the candidate image, and how they differ from the running one.</summary>
    public VulnerabilityReport? Vulnerabilities { get; init; }
}

public sealed record SeverityCounts(int Critical, int High, int Medium, int Low, int Unknown)
{
    public static readonly SeverityCounts Zero = new(0, 0, 0, 0, 0);
    public int Total => Critical + High + Medium + Low + Unknown;
}

public sealed record VulnerabilityReport(SeverityCounts Candidate)
{
    /// <summary>Counts in the running image, when it was scanned too.</summary>
    public SeverityCounts? Current { get; init; }

    /// <summary>Present in the candidate but not in the running image.</summary>
    public SeverityCounts? Introduced { get; init; }

    /// <summary>Present in the running image and fixed in the candidate.</summary>
    public SeverityCounts? Fixed { get; init; }

    public IReadOnlyList<string>? IntroducedIds { get; init; }
    public IReadOnlyList<string>? FixedIds { get; init; }
}

public static class CommandTypes
{
    public const string Deploy = "deploy";
    public const string Rollback = "rollback";
    public const string Scan = "scan";
}

/// <summary>
/// A command for an agent. The original API only knew deploy commands; <see cref="Type"/> tells
/// deploy, rollback and scan apart and is optional on the wire (absent means deploy).
/// </summary>
public sealed record AgentCommand(
    string CommandId,
    string? UpdateResultId,
    string? Image,
    string? LatestTag,
    string? ComposeFile,
    string? ComposeService)
{
    public string Type { get; init; } = CommandTypes.Deploy;
    public string? ContainerId { get; init; }
    public string? PreviousTag { get; init; }
    public string? Namespace { get; init; }
    public string? LatestDigest { get; init; }
}

public sealed record CommandsResponse(IReadOnlyList<AgentCommand> Commands);

public sealed record CommandResult(string CommandId, bool Success, string? Error = null, string? Log = null);

[JsonSourceGenerationOptions(System.Text.Json.JsonSerializerDefaults.Web,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true)]
[JsonSerializable(typeof(RegisterAgentRequest))]
[JsonSerializable(typeof(RegisterAgentResponse))]
[JsonSerializable(typeof(SubmitReportRequest))]
[JsonSerializable(typeof(CommandsResponse))]
[JsonSerializable(typeof(CommandResult))]
public sealed partial class ContractsJsonContext : JsonSerializerContext;
