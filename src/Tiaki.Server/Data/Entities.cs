namespace Tiaki.Server.Data;

internal sealed class AgentEntity
{
    public required string Id { get; set; }
    public required string Name { get; set; }
    public required string Type { get; set; }
    public string? Description { get; set; }
    public required string KeyPrefix { get; set; }
    public required string KeyHash { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? LastSeenAt { get; set; }

    /// <summary>Set when the agent was found offline (and that was notified); cleared when it comes back.</summary>
    public DateTimeOffset? OfflineSince { get; set; }
}

internal sealed class EnrollmentTokenEntity
{
    public required string Id { get; set; }
    public required string Prefix { get; set; }
    public required string Hash { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset ExpiresAt { get; set; }
    public int UsesLeft { get; set; }
}

internal sealed class ContainerEntity
{
    public required string Id { get; set; }
    public required string AgentId { get; set; }
    public required string ContainerId { get; set; }
    public required string Name { get; set; }
    public required string Image { get; set; }
    public required string Tag { get; set; }
    public required string Digest { get; set; }
    public string? ComposeFile { get; set; }
    public string? ComposeService { get; set; }
    public string? ComposeProject { get; set; }
    public string? Namespace { get; set; }
    public string? Workload { get; set; }
    public string? LabelsJson { get; set; }
    public string? CheckError { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}

internal static class UpdateStatuses
{
    public const string Pending = "pending";
    public const string Approved = "approved";
    public const string Deploying = "deploying";
    public const string Deployed = "deployed";
    public const string Failed = "failed";
    public const string Ignored = "ignored";
    public const string RollingBack = "rolling_back";
    public const string RolledBack = "rolled_back";

    public static readonly IReadOnlySet<string> All = new HashSet<string>(StringComparer.Ordinal)
    {
        Pending, Approved, Deploying, Deployed, Failed, Ignored, RollingBack, RolledBack,
    };
}

internal sealed class UpdateEntity
{
    public required string Id { get; set; }
    public required string AgentId { get; set; }
    public required string ContainerId { get; set; }
    public required string CurrentTag { get; set; }
    public required string LatestTag { get; set; }
    public required string LatestDigest { get; set; }
    public string? ChangelogUrl { get; set; }
    public string? Bump { get; set; }
    public string? VulnerabilitiesJson { get; set; }
    public required string Status { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>When the candidate image was built, as the agent reported it.</summary>
    public DateTimeOffset? ImageCreatedAt { get; set; }

    /// <summary>When this server first saw the current candidate digest (fallback for the minimum age).</summary>
    public DateTimeOffset? CandidateSeenAt { get; set; }

    /// <summary>Why a policy holds this update back (too young, outside the window, vulnerabilities), and until when.</summary>
    public string? HeldReason { get; set; }

    public DateTimeOffset? HeldUntil { get; set; }

    /// <summary>The candidate digest the "updates found" notification went out for, so each candidate is announced once.</summary>
    public string? NotifiedDigest { get; set; }
}

internal static class CommandStatuses
{
    public const string Queued = "queued";
    public const string Leased = "leased";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
}

internal sealed class CommandEntity
{
    public required string Id { get; set; }
    public required string AgentId { get; set; }
    public required string Type { get; set; }
    public string? UpdateId { get; set; }
    public required string PayloadJson { get; set; }
    public required string Status { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? LeaseUntil { get; set; }
    public int Deliveries { get; set; }
    public DateTimeOffset? CompletedAt { get; set; }
    public string? Error { get; set; }
    public string? Log { get; set; }
}

internal sealed class AuditEntity
{
    public long Id { get; set; }
    public DateTimeOffset At { get; set; }
    public required string Actor { get; set; }
    public required string Action { get; set; }
    public string? Target { get; set; }
    public string? Detail { get; set; }
    public string? Log { get; set; }
}
