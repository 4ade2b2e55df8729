using System.Net.Http.Headers;

namespace Tiaki.Registry.Auth;

/// <summary>A parsed <c>WWW-Authenticate</c> challenge (RFC 7235) from a registry.</summary>
internal sealed record AuthChallenge(string Scheme, IReadOnlyDictionary<string, string> Parameters)
{
    public bool IsBearer => Scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase);
    public bool IsBasic => Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase);
    public string? Realm => Parameters.GetValueOrDefault("realm");
    public string? Service => Parameters.GetValueOrDefault("service");

    public static AuthChallenge? From(HttpResponseHeaders headers)
    {
        foreach (var header in headers.WwwAuthenticate)
        {
            var parameters = ParseParameters(header.Parameter ?? "");
            var challenge = new AuthChallenge(header.Scheme, parameters);
            if (challenge.IsBearer || challenge.IsBasic) return challenge;
        }
        return null;
    }

    // realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a:pull,push"
    internal static Dictionary<string, string> ParseParameters(string text)
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var i = 0;
        while (i < text.Length)
        {
            while (i < text.Length && (text[i] == ',' || char.IsWhiteSpace(text[i]))) i++;
            var eq = text.IndexOf('=', i);
            if (eq < 0) break;
            var name = text[i..eq].Trim();
            i = eq + 1;
            string value;
            if (i < text.Length && text[i] == '"')
            {
                var sb = new System.Text.StringBuilder();
                i++;
                while (i < text.Length && text[i] != '"')
                {
                    if (text[i] == '\\' && i + 1 < text.Length) i++;
                    sb.Append(text[i]);
                    i++;
                }
                i++;
                value = sb.ToString();
            }
            else
            {
                var end = text.IndexOf(',', i);
                if (end < 0) end = text.Length;
                value = text[i..end].Trim();
                i = end;
            }
            if (name.Length > 0) result[name] = value;
        }
        return result;
    }
}
