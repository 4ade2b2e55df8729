using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using MudBlazor.Services;

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
        services.AddMudServices();
        services.AddCascadingAuthenticationState();
        services.AddScoped<AuthenticationStateProvider, SessionExpiryStateProvider>();
        services.AddSingleton<DashboardScopes>();
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
