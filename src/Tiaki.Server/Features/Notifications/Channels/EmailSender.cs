using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;

namespace Tiaki.Server.Features.Notifications.Channels;

internal enum SmtpSecurity
{
    /// <summary>STARTTLS when the server offers it (MailKit's Auto, the common case on 587/25).</summary>
    Auto,
    /// <summary>Implicit TLS from the first byte (port 465; <c>SMTP_SECURE=true</c>).</summary>
    Tls,
    /// <summary>STARTTLS required.</summary>
    StartTls,
    /// <summary>Plain text, for a relay on loopback.</summary>
    None,
}

internal sealed record EmailSettings(
    string Host,
    int Port,
    SmtpSecurity Security,
    string? User,
    string? Password,
    string From,
    IReadOnlyList<string> To);

/// <summary>Sends one e-mail per notification over SMTP with MailKit.</summary>
internal sealed class EmailSender(TimeProvider time)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    public async Task<DeliveryOutcome> SendAsync(EmailSettings settings, Notification notification, CancellationToken cancellationToken)
    {
        MimeMessage message;
        try
        {
            message = Build(settings, notification, time.GetUtcNow());
        }
        catch (ParseException e)
        {
            return DeliveryOutcome.Failed($"invalid address: {e.Message}");
        }

        using var client = new SmtpClient { Timeout = (int)Timeout.TotalMilliseconds };
        try
        {
            await client.ConnectAsync(settings.Host, settings.Port, ToMailKit(settings.Security), cancellationToken);
            if (!string.IsNullOrEmpty(settings.User))
                await client.AuthenticateAsync(settings.User, settings.Password ?? "", cancellationToken);
            await client.SendAsync(message, cancellationToken);
            await client.DisconnectAsync(quit: true, cancellationToken);
            return DeliveryOutcome.Sent;
        }
        // MailKit reports server refusals and transport failures through these; the messages carry the
        // server's reply, never our password.
        catch (Exception e) when (e is AuthenticationException or SmtpCommandException or SmtpProtocolException
                                   or ServiceNotConnectedException or ServiceNotAuthenticatedException
                                   or IOException or System.Net.Sockets.SocketException or SslHandshakeException
                                   or TimeoutException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return DeliveryOutcome.Failed($"SMTP {settings.Host}:{settings.Port}: {e.Message}");
        }
    }

    internal static MimeMessage Build(EmailSettings settings, Notification notification, DateTimeOffset now)
    {
        var message = new MimeMessage { Subject = notification.Title, Date = now };
        message.From.Add(MailboxAddress.Parse(settings.From));
        foreach (var to in settings.To)
            message.To.Add(MailboxAddress.Parse(to));
        message.Headers.Add("X-Tiaki-Event", notification.Event);
        var text = notification.Link is null ? notification.Body : $"{notification.Body}\n\n{notification.Link}\n";
        message.Body = new TextPart("plain") { Text = text };
        return message;
    }

    private static SecureSocketOptions ToMailKit(SmtpSecurity security) => security switch
    {
        SmtpSecurity.Tls => SecureSocketOptions.SslOnConnect,
        SmtpSecurity.StartTls => SecureSocketOptions.StartTls,
        SmtpSecurity.None => SecureSocketOptions.None,
        _ => SecureSocketOptions.StartTlsWhenAvailable,
    };
}
