using Microsoft.Extensions.Options;
using Tiaki.Server.Features.Notifications.Channels;
using Tiaki.Server.Features.Policies;

namespace Tiaki.Server.Features.Notifications;

internal static class NotificationServiceCollectionExtensions
{
    /// <summary>Channels, the outbox and its dispatcher, policies and their evaluator.</summary>
    public static IServiceCollection AddTiakiNotificationsAndPolicies(this IServiceCollection services)
    {
        services.AddSingleton<IConfigureOptions<NotificationOptions>, NotificationOptionsSetup>();
        services.AddSingleton<IValidateOptions<NotificationOptions>, NotificationOptionsValidator>();
        services.AddOptions<NotificationOptions>().ValidateOnStart();

        // No request logging: webhook and ntfy URLs carry secrets in their paths (Slack, Discord, ntfy topics).
        services.AddHttpClient(ChannelSenders.HttpClientName, c => c.Timeout = TimeSpan.FromSeconds(30)).RemoveAllLoggers();
        services.AddSingleton<EmailSender>();
        services.AddSingleton<NotificationSignal>();
        services.AddScoped<ChannelSenders>();
        services.AddScoped<ChannelService>();
        services.AddScoped<NotificationOutbox>();
        services.AddScoped<DeliveryHistory>();
        services.AddHostedService<NotificationDispatcher>();

        services.AddScoped<PolicyService>();
        services.AddScoped<PolicyAutomation>();
        services.AddSingleton<PolicyEvaluatorState>();
        services.AddHostedService<PolicyEvaluator>();
        return services;
    }
}
