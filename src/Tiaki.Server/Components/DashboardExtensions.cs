using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using MudBlazor.Services;
using Tiaki.Server.Configuration;

namespace Tiaki.Server.Components;

/// <summary>The web dashboard: Blazor (interactive server) pages over the same services as the admin API.</summary>
internal static class DashboardExtensions
{
    public static WebApplicationBuilder AddDashboard(this WebApplicationBuilder builder)
    {
        // MudBlazor's CSS/JS live in its package. A published app has them in wwwroot; run from a build output (tests,
        // `dotnet run` in any environment) they are found through the build's manifest, which only exists there.
        builder.WebHost.UseStaticWebAssets();
        var services = builder.Services;
        services.AddRazorComponents().AddInteractiveServerComponents();
        services.AddMudServices(c =>
        {
            // Confirmations at the bottom, briefly: they must not sit on a page's title and actions.
            c.SnackbarConfiguration.PositionClass = MudBlazor.Defaults.Classes.Position.BottomRight;
            c.SnackbarConfiguration.VisibleStateDuration = 3000;
        });
        services.AddCascadingAuthenticationState();
        services.AddScoped<AuthenticationStateProvider, SessionExpiryStateProvider>();
        services.AddSingleton<DashboardScopes>();

        // Antiforgery tokens and the circuit's state are protected with these keys: keep them in the data directory
        // so a restart does not void every open form (replicas need that directory shared, or sticky sessions).
        services.AddDataProtection().SetApplicationName("tiaki");
        services.AddOptions<KeyManagementOptions>().Configure<IOptions<TiakiOptions>, ILoggerFactory>((k, o, loggers) =>
            k.XmlRepository = new FileSystemXmlRepository(new DirectoryInfo(Path.Combine(o.Value.DataDir, "dataprotection-keys")), loggers));
        services.AddDashboardAuth();
        return builder;
    }

    public static WebApplication MapDashboard(this WebApplication app)
    {
        // After authentication (UseTiakiServer): antiforgery reads the user to bind its tokens to the session.
        app.UseAntiforgery();
        app.MapStaticAssets();
        app.MapPost(DashboardAuth.LogoutPath, Logout).AllowAnonymous().ExcludeFromDescription();
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
        return app;
    }

    // [FromForm] makes the endpoint take a form, so the antiforgery middleware checks its token.
    private static RedirectHttpResult Logout(HttpContext http, [FromForm] string? returnUrl)
    {
        DashboardAuth.ClearSession(http);
        return TypedResults.LocalRedirect(DashboardAuth.LoginPath);
    }
}
