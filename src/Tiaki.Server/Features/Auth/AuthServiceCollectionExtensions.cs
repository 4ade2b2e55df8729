using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.IdentityModel.Tokens;

namespace Tiaki.Server.Features.Auth;

internal static class AuthServiceCollectionExtensions
{
    public const string AgentPolicy = "agent";
    public const string AdminPolicy = "admin";

    public static IServiceCollection AddTiakiAuth(this IServiceCollection services)
    {
        services.AddSingleton<DataDirSecrets>();
        services.AddSingleton<AdminCredentials>();
        services.AddHostedService<AdminTokenBootstrap>();
        services.AddSingleton<LoginThrottle>();
        services.AddSingleton<AdminLoginService>();
        services.AddSingleton<ApiKeyVerifier>();

        services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme)
            .AddJwtBearer()
            .AddScheme<AuthenticationSchemeOptions, AgentKeyAuthenticationHandler>(AgentKeyAuthenticationHandler.SchemeName, null);
        services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
            .Configure<AdminCredentials, TimeProvider>((o, creds, time) =>
            {
                o.MapInboundClaims = false;
                o.TimeProvider = time;
                o.TokenValidationParameters = new TokenValidationParameters
                {
                    ValidIssuer = AdminCredentials.Issuer,
                    ValidAudience = AdminCredentials.Audience,
                    IssuerSigningKey = creds.SigningKey,
                    RoleClaimType = "role",
                    NameClaimType = "sub",
                    ClockSkew = TimeSpan.Zero,
                    // Lifetime against the injected clock, so expiry is testable without waiting.
                    LifetimeValidator = (notBefore, expires, _, _) =>
                    {
                        var now = time.GetUtcNow().UtcDateTime;
                        return (notBefore is null || notBefore <= now) && expires is { } e && e > now;
                    },
                };
            });

        services.AddAuthorizationBuilder()
            .AddPolicy(AgentPolicy, p => p.AddAuthenticationSchemes(AgentKeyAuthenticationHandler.SchemeName).RequireAuthenticatedUser())
            .AddPolicy(AdminPolicy, p => p.AddAuthenticationSchemes(JwtBearerDefaults.AuthenticationScheme).RequireRole("admin"));
        return services;
    }
}
