using System.Net.Http.Headers;
using System.Text;

namespace Tiaki.Server.Features.Notifications.Channels;

/// <param name="Server">ntfy server, e.g. https://ntfy.sh or a self-hosted one.</param>
/// <param name="Priority">1 (min) to 5 (max); ntfy's default is 3.</param>
internal sealed record NtfySettings(Uri Server, string Topic, string? AccessToken, int? Priority);

/// <summary>Publishes to an ntfy topic: body as the message, title/tags/click link as headers.</summary>
internal sealed class NtfySender(HttpClient http)
{
    public async Task<DeliveryOutcome> SendAsync(NtfySettings settings, Notification notification, CancellationToken cancellationToken)
    {
        var url = new Uri(settings.Server, Uri.EscapeDataString(settings.Topic));
        using var request = new HttpRequestMessage(HttpMethod.Post, url);
        request.Content = new StringContent(notification.Body, Encoding.UTF8, "text/plain");
        // ntfy reads headers as latin-1 unless RFC 2047 encoded; keep titles ASCII-safe that way.
        request.Headers.TryAddWithoutValidation("Title", EncodeHeader(notification.Title));
        request.Headers.TryAddWithoutValidation("Tags", TagFor(notification.Event));
        if (settings.Priority is { } p)
            request.Headers.TryAddWithoutValidation("Priority", p.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (notification.Link is not null)
            request.Headers.TryAddWithoutValidation("Click", notification.Link);
        if (!string.IsNullOrEmpty(settings.AccessToken))
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", settings.AccessToken);

        return await HttpDelivery.SendAsync(http, request, cancellationToken);
    }

    private static string TagFor(string eventName) => eventName switch
    {
        NotificationEvents.DeploySucceeded or NotificationEvents.AgentOnline => "white_check_mark",
        NotificationEvents.DeployFailed or NotificationEvents.AgentOffline => "warning",
        NotificationEvents.RolledBack => "rewind",
        _ => "package",
    };

    private static string EncodeHeader(string value) =>
        value.All(c => c < 128) ? value : "=?UTF-8?B?" + Convert.ToBase64String(Encoding.UTF8.GetBytes(value)) + "?=";
}

internal static class HttpDelivery
{
    public static async Task<DeliveryOutcome> SendAsync(HttpClient http, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        // Scheme and host only: Slack/Discord webhooks and ntfy topics carry their secret in the path.
        var target = request.RequestUri!.GetLeftPart(UriPartial.Authority);
        try
        {
            using var response = await http.SendAsync(request, cancellationToken);
            if (response.IsSuccessStatusCode)
                return DeliveryOutcome.Sent;
            return DeliveryOutcome.Failed($"{target} answered {(int)response.StatusCode} {response.ReasonPhrase}");
        }
        catch (HttpRequestException e)
        {
            return DeliveryOutcome.Failed($"{target}: {e.Message}");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return DeliveryOutcome.Failed($"{target}: timed out");
        }
    }
}
