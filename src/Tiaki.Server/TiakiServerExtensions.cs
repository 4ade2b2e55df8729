using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Prometheus;
using Tiaki.Server.Configuration;
using Tiaki.Server.Data;
using Tiaki.Server.Features.Agents;
using Tiaki.Server.Features.Audit;
using Tiaki.Server.Features.Auth;
using Tiaki.Server.Features.Commands;
using Tiaki.Server.Features.Health;
using Tiaki.Server.Features.Live;
using Tiaki.Server.Features.Overview;
using Tiaki.Server.Features.Notifications;
using Tiaki.Server.Features.Policies;
using Tiaki.Server.Features.Reports;
using Tiaki.Server.Features.Scheduling;
using Tiaki.Server.Features.Updates;
using Tiaki.Server.Infrastructure;

namespace Tiaki.Server;

internal static class TiakiServerExtensions
{
    public static WebApplicationBuilder AddTiakiServer(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        // EF logs every SQL statement at Information; keep the console for what an operator needs.
        builder.Logging.AddFilter("Microsoft.EntityFrameworkCore", LogLevel.Warning);
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<IConfigureOptions<TiakiOptions>, TiakiOptionsSetup>();
        services.AddSingleton<IValidateOptions<TiakiOptions>, TiakiOptionsValidator>();
        services.AddOptions<TiakiOptions>().ValidateOnStart();

        // PORT (default 3001) unless the host was given explicit URLs.
        if (builder.Configuration["ASPNETCORE_URLS"] is null && builder.Configuration["URLS"] is null)
        {
            var port = int.TryParse(builder.Configuration["PORT"], out var p) && p is >= 0 and < 65536 ? p : 3001;
            builder.WebHost.UseUrls($"http://0.0.0.0:{port}");
        }

        services.AddTiakiData();       // first: migrations run before the other hosted services start
        services.AddTiakiAuth();

        services.AddSingleton<CommandSignals>();
        services.AddSingleton<LiveUpdates>();
        services.AddSingleton<CommandNotifier>();
        services.AddSingleton<PostgresCommandListener>();
        services.AddHostedService(sp => sp.GetRequiredService<PostgresCommandListener>());
        services.AddSingleton<SchedulerLeadership>();
        services.AddSingleton<ScanScheduler>();
        services.AddHostedService(sp => sp.GetRequiredService<ScanScheduler>());

        services.AddScoped<AuditLog>();
        services.AddScoped<AgentService>();
        services.AddScoped<ReportService>();
        services.AddScoped<CommandService>();
        services.AddScoped<UpdateService>();
        services.AddScoped<ScanService>();
        services.AddScoped<OverviewService>();
        services.AddTiakiNotificationsAndPolicies();

        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.Configure<JsonOptions>(o =>
        {
            // Missing required members and nulls in non-nullable ones are client errors (400 naming the field).
            o.SerializerOptions.RespectNullableAnnotations = true;
            o.SerializerOptions.RespectRequiredConstructorParameters = true;
        });
        services.AddProblemDetails(o => o.CustomizeProblemDetails = c =>
        {
            c.ProblemDetails.Instance = null;
            c.ProblemDetails.Extensions.Remove("exception");
        });
        services.AddExceptionHandler<ProblemExceptionHandler>();
        services.AddOpenApi();
        return builder;
    }

    public static WebApplication UseTiakiServer(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseMiddleware<BodyLimitMiddleware>();
        app.UseHttpMetrics();
        app.UseAuthentication();
        app.UseAuthorization();
        return app;
    }

    public static WebApplication MapAgentApi(this WebApplication app)
    {
        var api = app.MapGroup("/api/v1");
        api.MapAgentRegistrationApi();
        api.MapReportApi();
        return app;
    }

    public static WebApplication MapAdminApi(this WebApplication app)
    {
        app.MapGroup("/api/v1").MapAuthApi();
        var admin = app.MapGroup("/api/v1/admin").RequireAuthorization(AuthServiceCollectionExtensions.AdminPolicy)
            .ProducesProblem(StatusCodes.Status401Unauthorized);
        admin.MapAgentAdminApi();
        admin.MapContainerAdminApi();
        admin.MapUpdateAdminApi();
        admin.MapScanAdminApi();
        admin.MapAuditAdminApi();
        admin.MapOverviewAdminApi();
        admin.MapNotificationAdminApi();
        admin.MapPolicyAdminApi();
        return app;
    }

    public static WebApplication MapOperationsEndpoints(this WebApplication app)
    {
        app.MapHealth();
        app.MapMetrics("/metrics");
        app.MapOpenApi("/openapi/{documentName}.json");
        return app;
    }
}
