namespace Tiaki.Server.Features.Notifications.Channels;

/// <summary>What a channel delivers: one event rendered for people, plus its facts for machines.</summary>
/// <param name="Event">Event name, e.g. <c>updates.found</c>, <c>deploy.succeeded</c>.</param>
/// <param name="Title">One line, used as e-mail subject and ntfy title.</param>
/// <param name="Body">Plain text, several lines.</param>
/// <param name="Link">Absolute link to the dashboard page about it, if the server knows its public URL.</param>
internal sealed record Notification(
    string Event,
    string Title,
    string Body,
    string? Link,
    IReadOnlyDictionary<string, string>? Data = null);

/// <summary>An attempt's result. A failed delivery is an expected outcome with a reason, never thrown.</summary>
internal sealed record DeliveryOutcome(bool Success, string? Error)
{
    public static readonly DeliveryOutcome Sent = new(true, null);
    public static DeliveryOutcome Failed(string error) => new(false, error);
}

internal static class ChannelKinds
{
    public const string Email = "email";
    public const string Webhook = "webhook";
    public const string Ntfy = "ntfy";

    public static readonly IReadOnlyList<string> All = [Email, Webhook, Ntfy];
}
