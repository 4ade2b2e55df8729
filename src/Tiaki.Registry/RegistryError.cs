using System.Diagnostics.CodeAnalysis;
using System.Net;

namespace Tiaki.Registry;

/// <summary>What kind of failure a registry call ended with.</summary>
public enum RegistryErrorKind
{
    /// <summary>The manifest, tag or repository does not exist (404).</summary>
    NotFound,
    /// <summary>Credentials are missing or were refused (401/403, or the token endpoint refused them).</summary>
    Unauthorized,
    /// <summary>The registry kept answering 429 after the allowed retries.</summary>
    RateLimited,
    /// <summary>The registry kept answering 5xx after the allowed retries.</summary>
    ServerError,
    /// <summary>Connection, DNS or TLS failure.</summary>
    Network,
    /// <summary>No answer within the request timeout.</summary>
    Timeout,
    /// <summary>The registry answered something this client cannot use.</summary>
    InvalidResponse,
    /// <summary>Any other unexpected HTTP status.</summary>
    Other,
}

/// <summary>
/// A failed registry call, as a value. The message never contains credentials or tokens: it is
/// safe to log and to show to users.
/// </summary>
/// <param name="Kind">The failure class.</param>
/// <param name="Message">What went wrong, including the registry's own error codes when it sent some.</param>
/// <param name="StatusCode">The last HTTP status, when there was a response.</param>
public sealed record RegistryError(RegistryErrorKind Kind, string Message, HttpStatusCode? StatusCode = null)
{
    /// <summary>True when trying again later may succeed (rate limits, server errors, timeouts, network).</summary>
    public bool Temporary => Kind is RegistryErrorKind.RateLimited or RegistryErrorKind.ServerError
        or RegistryErrorKind.Network or RegistryErrorKind.Timeout;

    /// <inheritdoc />
    public override string ToString() => Message;
}

/// <summary>The value of a registry call, or the <see cref="RegistryError"/> it ended with.</summary>
/// <typeparam name="T">The value type.</typeparam>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Usage", "CA2225", Justification = "Results are produced inside the library; callers only read them.")]
public readonly struct RegistryResult<T>
{
    private RegistryResult(T? value, RegistryError? error)
    {
        Value = value;
        Error = error;
    }

    /// <summary>The value when the call succeeded.</summary>
    public T? Value { get; }

    /// <summary>The failure, or null when the call succeeded.</summary>
    public RegistryError? Error { get; }

    /// <summary>True when <see cref="Value"/> holds the result.</summary>
    [MemberNotNullWhen(true, nameof(Value))]
    [MemberNotNullWhen(false, nameof(Error))]
    public bool IsSuccess => Error is null;

    /// <summary>Wraps a value.</summary>
    public static implicit operator RegistryResult<T>(T value) => new(value, null);

    /// <summary>Wraps an error.</summary>
    public static implicit operator RegistryResult<T>(RegistryError error) => new(default, error);

}
