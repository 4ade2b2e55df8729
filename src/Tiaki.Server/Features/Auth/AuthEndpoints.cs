using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using Tiaki.Server.Infrastructure;

namespace Tiaki.Server.Features.Auth;

internal sealed record LoginRequest(string Token);

internal static class AuthEndpoints
{
    public static RouteGroupBuilder MapAuthApi(this RouteGroupBuilder api)
    {
        api.MapPost("/auth/login", Login).WithTags("Auth").AllowAnonymous();
        return api;
    }

    private static Results<Ok<LoginResponse>, ProblemHttpResult> Login(LoginRequest request, AdminLoginService login, HttpContext http)
    {
        var client = http.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        var (outcome, response, retryAfter) = login.Login(request.Token, client);
        switch (outcome)
        {
            case LoginOutcome.Success:
                return TypedResults.Ok(response!);
            case LoginOutcome.Throttled:
                http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
                return Problems.Status(StatusCodes.Status429TooManyRequests, "Too many failed logins from this address; try again later.");
            default:
                return Problems.Status(StatusCodes.Status401Unauthorized, "Wrong admin token.");
        }
    }
}
