using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tiaki.Server.Features.Notifications.Channels;

internal sealed record WebhookSettings(Uri Url, string? Secret);

/// <summary>
/// POSTs the notification as JSON. With a secret, <c>X-Tiaki-Signature: sha256=&lt;hex&gt;</c> is the
/// HMAC-SHA256 of the exact body bytes, so receivers can verify it the way they do GitHub's.
/// </summary>
internal sealed class WebhookSender(HttpClient http, TimeProvider time)
{
    public const string SignatureHeader = "X-Tiaki-Signature";
    public const string EventHeader = "X-Tiaki-Event";

    public async Task<DeliveryOutcome> SendAsync(WebhookSettings settings, Notification notification, CancellationToken cancellationToken)
    {
        var payload = new WebhookPayload(notification.Event, notification.Title, notification.Body, notification.Link,
            notification.Data ?? new Dictionary<string, string>(), time.GetUtcNow());
        var body = JsonSerializer.SerializeToUtf8Bytes(payload, NotificationJsonContext.Default.WebhookPayload);

        using var request = new HttpRequestMessage(HttpMethod.Post, settings.Url);
        request.Content = new ByteArrayContent(body);
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        request.Headers.Add(EventHeader, notification.Event);
        if (!string.IsNullOrEmpty(settings.Secret))
            request.Headers.Add(SignatureHeader, Sign(settings.Secret, body));

        return await HttpDelivery.SendAsync(http, request, cancellationToken);
    }

    public static string Sign(string secret, ReadOnlySpan<byte> body) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));
}

internal sealed record WebhookPayload(
    string Event,
    string Title,
    string Body,
    string? Link,
    IReadOnlyDictionary<string, string> Data,
    DateTimeOffset SentAt);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(WebhookPayload))]
internal sealed partial class NotificationJsonContext : JsonSerializerContext;
