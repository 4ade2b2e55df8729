using Microsoft.Extensions.Logging;

namespace Tiaki.Registry;

public sealed partial class RegistryClient
{
    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "Registry {Registry}: {What} failed ({Reason}); attempt {Attempt}, retrying in {DelayMs} ms")]
        public static partial void Retrying(ILogger logger, string registry, string what, string reason, int attempt, long delayMs);

        [LoggerMessage(2, LogLevel.Debug, "Registry {Registry} answers at {BaseUri} (auth: {Scheme})")]
        public static partial void Pinged(ILogger logger, string registry, Uri baseUri, string scheme);

        [LoggerMessage(3, LogLevel.Debug, "Registry {Registry}: new token for scope {Scope}, valid {Seconds} s")]
        public static partial void TokenIssued(ILogger logger, string registry, string scope, long seconds);

        [LoggerMessage(4, LogLevel.Warning, "Registry {Registry}: could not read credentials: {Reason}")]
        public static partial void CredentialFailed(ILogger logger, string registry, string reason);
    }
}
