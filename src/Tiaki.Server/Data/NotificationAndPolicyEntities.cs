namespace Tiaki.Server.Data;

/// <summary>A notification channel configured through the admin API. <see cref="Secret"/> is write-only at the API.</summary>
internal sealed class NotificationChannelEntity
{
    public required string Id { get; set; }
    public required string Name { get; set; }
    public required string Kind { get; set; }
    public bool Enabled { get; set; } = true;

    /// <summary>Comma-separated event names this channel wants; null means every event.</summary>
    public string? Events { get; set; }

    /// <summary>Kind-specific settings without the secret (JSON).</summary>
    public required string SettingsJson { get; set; }

    /// <summary>SMTP password, webhook signing secret or ntfy access token.</summary>
    public string? Secret { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}

internal static class DeliveryStatuses
{
    public const string Pending = "pending";
    public const string Sending = "sending";
    public const string Sent = "sent";

    /// <summary>Gave up after the last attempt.</summary>
    public const string Failed = "failed";

    public static readonly IReadOnlySet<string> All = new HashSet<string>(StringComparer.Ordinal) { Pending, Sending, Sent, Failed };
}

/// <summary>The outbox: one row per notification per channel, written in the transaction of the change it reports.</summary>
internal sealed class NotificationDeliveryEntity
{
    public required string Id { get; set; }
    public required string ChannelId { get; set; }
    public required string Event { get; set; }
    public required string Title { get; set; }
    public required string Body { get; set; }
    public string? Link { get; set; }
    public string? DataJson { get; set; }
    public required string Status { get; set; }
    public int Attempts { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset NextAttemptAt { get; set; }
    public DateTimeOffset? LeaseUntil { get; set; }
    public DateTimeOffset? SentAt { get; set; }
    public string? LastError { get; set; }
}

internal sealed class NotificationAttemptEntity
{
    public long Id { get; set; }
    public required string DeliveryId { get; set; }
    public DateTimeOffset At { get; set; }
    public bool Success { get; set; }
    public string? Error { get; set; }
}

internal sealed class PolicyEntity
{
    public required string Id { get; set; }
    public required string Name { get; set; }

    /// <summary>Glob over the image repository (<c>*</c> any run of characters, <c>?</c> one).</summary>
    public required string ImagePattern { get; set; }

    public string? AgentId { get; set; }
    public bool AutoApprove { get; set; }
    public bool AutoDeploy { get; set; }

    /// <summary>digest, patch, minor or major: the largest change automatic actions take.</summary>
    public required string MaxBump { get; set; }

    public int? MinImageAgeMinutes { get; set; }
    public string? MaintenanceWindowCron { get; set; }
    public int? MaintenanceWindowMinutes { get; set; }
    public bool BlockOnVulnerabilities { get; set; } = true;
    public bool MuteNotifications { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}
