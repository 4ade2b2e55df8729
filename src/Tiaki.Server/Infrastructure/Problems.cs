using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Tiaki.Server.Configuration;

namespace Tiaki.Server.Infrastructure;

/// <summary>The one way client errors leave the server: RFC 7807 ProblemDetails, never a stack trace or a path.</summary>
internal static partial class Problems
{
    public static ProblemHttpResult Status(int status, string detail) =>
        TypedResults.Problem(detail: detail, statusCode: status);

    public static ProblemHttpResult Field(string field, string message) =>
        TypedResults.Problem(
            detail: $"{field}: {message}",
            statusCode: StatusCodes.Status400BadRequest,
            title: "One or more validation errors occurred.",
            extensions: new Dictionary<string, object?> { ["errors"] = new Dictionary<string, string[]> { [field] = [message] } });

    public static ProblemHttpResult NotFound(string what) => Status(StatusCodes.Status404NotFound, $"{what} not found.");

    public static ProblemHttpResult Conflict(string detail) => Status(StatusCodes.Status409Conflict, detail);

    /// <summary>Names the offending field of a request that could not be bound (bad JSON, wrong type, missing member).</summary>
    internal static (string Field, string Message) Describe(BadHttpRequestException ex)
    {
        if (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return ("body", "the request body is larger than the server accepts");
        }

        if (ex.InnerException is JsonException json)
        {
            var missing = MissingProperties().Match(json.Message);
            if (missing.Success)
            {
                var names = RequiredName().Matches(missing.Groups[1].Value).Select(m => m.Groups[1].Value).ToArray();
                var parent = FieldName(json.Path);
                var field = names.Length > 0 ? (parent == "body" ? names[0] : $"{parent}.{names[0]}") : parent;
                return (field, $"required field '{string.Join("', '", names)}' is missing");
            }

            var path = FieldName(json.Path);
            return json.Message.Contains("could not be converted", StringComparison.Ordinal) ||
                   json.Message.Contains("null", StringComparison.OrdinalIgnoreCase) && json.Message.Contains("non-nullable", StringComparison.OrdinalIgnoreCase)
                ? (path, json.Message.Contains("non-nullable", StringComparison.OrdinalIgnoreCase) ? "must not be null" : "has the wrong type")
                : (path, "is not valid JSON");
        }

        var param = ParameterName().Match(ex.Message);
        if (param.Success)
        {
            return ex.Message.Contains("from body", StringComparison.Ordinal) || ex.Message.Contains("request body", StringComparison.Ordinal)
                ? ("body", "a JSON body is required")
                : (param.Groups[1].Value, "has an invalid value");
        }

        return ex.Message.Contains("JSON", StringComparison.Ordinal) || ex.Message.Contains("Content-Type", StringComparison.OrdinalIgnoreCase)
            ? ("body", "expected a JSON body with Content-Type: application/json")
            : ("request", "is malformed");
    }

    private static string FieldName(string? path)
    {
        if (string.IsNullOrEmpty(path) || path == "$")
        {
            return "body";
        }

        return path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path.TrimStart('$');
    }

    [GeneratedRegex(@"missing required properties,? including:?\s*(.*)$", RegexOptions.Singleline)]
    private static partial Regex MissingProperties();

    [GeneratedRegex(@"'([^']+)'")]
    private static partial Regex RequiredName();

    [GeneratedRegex("parameter \"(?:[^\"]+ )?([A-Za-z0-9_]+)\"")]
    private static partial Regex ParameterName();
}

internal sealed partial class ProblemExceptionHandler(IProblemDetailsService problems, ILogger<ProblemExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken cancellationToken)
    {
        int status;
        Microsoft.AspNetCore.Mvc.ProblemDetails details;
        if (exception is BadHttpRequestException bad)
        {
            status = bad.StatusCode;
            var (field, message) = Problems.Describe(bad);
            details = new Microsoft.AspNetCore.Mvc.ProblemDetails
            {
                Status = status,
                Title = status == StatusCodes.Status413PayloadTooLarge ? "Request body too large" : "One or more validation errors occurred.",
                Detail = $"{field}: {message}",
            };
            details.Extensions["errors"] = new Dictionary<string, string[]> { [field] = [message] };
        }
        else if (exception is OperationCanceledException && http.RequestAborted.IsCancellationRequested)
        {
            return true;
        }
        else
        {
            status = StatusCodes.Status500InternalServerError;
            LogUnhandled(exception, http.Request.Method, http.Request.Path);
            details = new Microsoft.AspNetCore.Mvc.ProblemDetails { Status = status, Title = "An unexpected error occurred." };
        }

        http.Response.StatusCode = status;
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = http, ProblemDetails = details, Exception = null });
    }

    [LoggerMessage(20, LogLevel.Error, "Unhandled error on {Method} {Path}")]
    private partial void LogUnhandled(Exception ex, string method, string path);
}

/// <summary>Refuses bodies over MAX_BODY_BYTES with 413 before anything reads them.</summary>
internal sealed class BodyLimitMiddleware(RequestDelegate next, IOptions<TiakiOptions> options, IProblemDetailsService problems)
{
    public async Task InvokeAsync(HttpContext http)
    {
        var limit = options.Value.MaxBodyBytes;
        if (http.Request.ContentLength > limit)
        {
            http.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
            var details = new Microsoft.AspNetCore.Mvc.ProblemDetails
            {
                Status = StatusCodes.Status413PayloadTooLarge,
                Title = "Request body too large",
                Detail = $"body: larger than the limit of {limit} bytes",
            };
            await problems.WriteAsync(new ProblemDetailsContext { HttpContext = http, ProblemDetails = details });
            return;
        }

        // Chunked bodies have no Content-Length: let the server stop reading at the limit (-> BadHttpRequestException 413).
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature)
        {
            feature.MaxRequestBodySize = limit;
        }

        await next(http);
    }
}
