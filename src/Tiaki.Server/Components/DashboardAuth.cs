using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Server;
using Microsoft.Extensions.Options;
using Tiaki.Server.Features.Auth;

namespace Tiaki.Server.Components;

/// <summary>
/// The dashboard's session is the admin API's JWT (same issuer, key and lifetime), carried in an HttpOnly,
/// SameSite=Strict cookie instead of an Authorization header. The admin API itself only accepts the header, so the
/// cookie can never be replayed against it from another site.
/// </summary>
internal static class DashboardAuth
{
    public const string CookieName = "tiaki_session";
    public const string Scheme = "DashboardCookie";
    public const string Policy = "dashboard";
    public const string LoginPath = "/login";
    public const string LogoutPath = "/logout";
    private const string Selector = "TiakiDefault";

    public static IServiceCollection AddDashboardAuth(this IServiceCollection services)
    {
        services.AddAuthentication(o =>
            {
                // HttpContext.User for requests without a named scheme (the Blazor circuit's hub connection among
                // them): a bearer header is an API caller, anything else may carry the dashboard cookie.
                o.DefaultScheme = Selector;
                o.DefaultChallengeScheme = Selector;
            })
            .AddPolicyScheme(Selector, null, o => o.ForwardDefaultSelector = http =>
                http.Request.Headers.Authorization.Count > 0 ? JwtBearerDefaults.AuthenticationScheme : Scheme)
            .AddJwtBearer(Scheme);

        services.AddOptions<JwtBearerOptions>(Scheme).Configure<IServiceProvider>((o, sp) =>
        {
            // Validate exactly like the admin API does. The monitor is resolved here, not injected: injecting it into
            // a configurator of the same options type would make the container build itself recursively.
            var api = sp.GetRequiredService<IOptionsMonitor<JwtBearerOptions>>().Get(JwtBearerDefaults.AuthenticationScheme);
            o.MapInboundClaims = false;
            o.TimeProvider = api.TimeProvider;
            o.TokenValidationParameters = api.TokenValidationParameters.Clone();
            o.Events = new JwtBearerEvents
            {
                OnMessageReceived = c =>
                {
                    c.Token = c.Request.Cookies[CookieName];
                    return Task.CompletedTask;
                },
                OnChallenge = c =>
                {
                    // A page, not an API: send the browser to the login form and back afterwards.
                    c.HandleResponse();
                    if (c.AuthenticateFailure is not null)
                    {
                        ClearSession(c.HttpContext);
                    }

                    c.Response.Redirect(LoginUrl(c.Request.Path + c.Request.QueryString));
                    return Task.CompletedTask;
                },
            };
        });

        services.AddAuthorizationBuilder()
            .AddPolicy(Policy, p => p.AddAuthenticationSchemes(Scheme).RequireRole("admin"));
        return services;
    }

    public static string LoginUrl(string? returnUrl) =>
        string.IsNullOrEmpty(returnUrl) || returnUrl == "/" ? LoginPath : $"{LoginPath}?returnUrl={Uri.EscapeDataString(returnUrl)}";

    /// <summary>Only a local path, so the login form cannot be used to bounce a user to another site.</summary>
    public static string SafeReturnUrl(string? returnUrl) =>
        returnUrl is { Length: > 0 } r && r[0] == '/' && !r.StartsWith("//", StringComparison.Ordinal) && !r.StartsWith("/\\", StringComparison.Ordinal) &&
        !r.StartsWith(LoginPath, StringComparison.OrdinalIgnoreCase)
            ? r
            : "/";

    public static void IssueSession(HttpContext http, LoginResponse session) =>
        http.Response.Cookies.Append(CookieName, session.AccessToken, new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Secure = http.Request.IsHttps,
            Path = "/",
            Expires = session.ExpiresAt,
            IsEssential = true,
        });

    public static void ClearSession(HttpContext http) =>
        http.Response.Cookies.Delete(CookieName, new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Strict, Secure = http.Request.IsHttps, Path = "/" });

    /// <summary>When the session's JWT stops being valid, from its <c>exp</c> claim.</summary>
    public static DateTimeOffset? ExpiresAt(ClaimsPrincipal user) =>
        user.FindFirst("exp")?.Value is { } exp && long.TryParse(exp, NumberStyles.Integer, CultureInfo.InvariantCulture, out var seconds)
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : null;
}

/// <summary>
/// An open page outlives the request that authenticated it: every few seconds the circuit checks the session's expiry
/// and, once it has passed, turns anonymous, which sends the browser back to the login form.
/// </summary>
internal sealed class SessionExpiryStateProvider(ILoggerFactory loggers, TimeProvider time)
    : RevalidatingServerAuthenticationStateProvider(loggers)
{
    protected override TimeSpan RevalidationInterval => TimeSpan.FromSeconds(5);

    protected override Task<bool> ValidateAuthenticationStateAsync(AuthenticationState authenticationState, CancellationToken cancellationToken) =>
        Task.FromResult(DashboardAuth.ExpiresAt(authenticationState.User) is { } exp && exp > time.GetUtcNow());
}

/// <summary>
/// A fresh DI scope (and so a fresh DbContext) per dashboard operation: a circuit lives for hours and its events
/// (clicks, live refreshes) interleave, which one shared DbContext would not survive.
/// </summary>
internal sealed class DashboardScopes(IServiceScopeFactory scopes)
{
    public async Task<T> RunAsync<TService, T>(Func<TService, Task<T>> action) where TService : notnull
    {
        await using var scope = scopes.CreateAsyncScope();
        return await action(scope.ServiceProvider.GetRequiredService<TService>());
    }
}
