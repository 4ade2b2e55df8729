using System.Security.Cryptography;
using System.Text;
using Isopoh.Cryptography.Argon2;
using Microsoft.Extensions.Options;
using Tiaki.Server.Configuration;

namespace Tiaki.Server.Features.Auth;

/// <summary>
/// A secret in the form <c>{kind}_{prefix}_{secret}</c>. The prefix is not secret: it finds the row in O(1); only an
/// argon2id hash of the whole string is stored.
/// </summary>
internal readonly record struct PrefixedSecret(string Value, string Prefix)
{
    private const int PrefixLength = 12;
    public const string AgentKeyKind = "tiaki";
    public const string EnrollmentKind = "tiakienroll";

    public static PrefixedSecret New(string kind)
    {
        var prefix = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(PrefixLength / 2));
        var secret = Base64Url(RandomNumberGenerator.GetBytes(32));
        return new($"{kind}_{prefix}_{secret}", prefix);
    }

    public static bool TryParse(string kind, string? value, out PrefixedSecret parsed)
    {
        parsed = default;
        if (value is null || value.Length < kind.Length + PrefixLength + 3 || value.Length > 200 ||
            !value.StartsWith(kind + "_", StringComparison.Ordinal))
        {
            return false;
        }

        var prefix = value.Substring(kind.Length + 1, PrefixLength);
        if (value[kind.Length + 1 + PrefixLength] != '_' || !prefix.All(char.IsAsciiHexDigitLower))
        {
            return false;
        }

        parsed = new(value, prefix);
        return true;
    }

    public static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

/// <summary>argon2id with OWASP's minimum parameters (19 MiB, 2 passes): costly to brute-force, ~tens of ms to check.</summary>
internal static class SecretHasher
{
    public static string Hash(string secret) =>
        Argon2.Hash(secret, timeCost: 2, memoryCost: 19456, parallelism: 1, type: Argon2Type.HybridAddressing, hashLength: 32);

    public static bool Verify(string hash, string secret)
    {
        try
        {
            return Argon2.Verify(hash, secret);
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>Constant-time equality of two strings via their SHA-256 (equal lengths, no early exit).</summary>
    public static bool FixedTimeEquals(string a, string b) =>
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(a)), SHA256.HashData(Encoding.UTF8.GetBytes(b)));
}

/// <summary>Secrets kept in the data directory (file mode 600), generated on first use.</summary>
internal sealed class DataDirSecrets(IOptions<TiakiOptions> options)
{
    private readonly Lock _gate = new();

    public string GetOrCreate(string fileName, Func<string> generate, out bool created)
    {
        lock (_gate)
        {
            var dir = options.Value.DataDir;
            Directory.CreateDirectory(dir);
            var path = Path.Combine(dir, fileName);
            if (File.Exists(path) && File.ReadAllText(path).Trim() is { Length: > 0 } existing)
            {
                created = false;
                return existing;
            }

            var value = generate();
            var fs = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                // Created 600 from the first byte: the secret is never readable by others, not even briefly.
                fs.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }
            using (var w = new StreamWriter(path, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), fs))
            {
                w.Write(value);
            }

            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }

            created = true;
            return value;
        }
    }
}
