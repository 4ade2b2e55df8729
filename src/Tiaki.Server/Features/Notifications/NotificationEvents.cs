namespace Tiaki.Server.Features.Notifications;

internal static class NotificationEvents
{
    public const string UpdatesFound = "updates.found";
    public const string DeploySucceeded = "deploy.succeeded";
    public const string DeployFailed = "deploy.failed";
    public const string RolledBack = "deploy.rolled_back";
    public const string AgentOffline = "agent.offline";
    public const string AgentOnline = "agent.online";
    public const string Test = "test";

    /// <summary>What a channel can subscribe to (the test message always goes through).</summary>
    public static readonly IReadOnlyList<string> Subscribable = [UpdatesFound, DeploySucceeded, DeployFailed, RolledBack, AgentOffline, AgentOnline];
}
