using System.Text.Json;
using YamlDotNet.Serialization;

namespace Tiaki.Server.Tests.Api;

/// <summary>
/// The running server's OpenAPI document and proto/api.yaml (the agent API contract) agree on paths, methods,
/// status codes and the required fields of each request and response schema.
/// </summary>
public sealed class ContractTests(SqliteFixture f) : IClassFixture<SqliteFixture>
{
    private static readonly string[] Methods = ["get", "post", "put", "delete", "patch"];

    [Fact]
    public async Task OpenApiDocument_MatchesProtoApiYaml()
    {
        var proto = LoadProto();
        var server = ToPlain(await f.Anonymous().GetJsonAsync("/openapi/v1.json"));
        var prefix = (string)((Dictionary<string, object?>)((List<object?>)proto["servers"]!)[0]!)["url"]!;
        var protoPaths = (Dictionary<string, object?>)proto["paths"]!;
        var serverPaths = (Dictionary<string, object?>)server["paths"]!;
        var problems = new List<string>();

        foreach (var (path, protoItem) in protoPaths)
        {
            if (!serverPaths.TryGetValue(prefix + path, out var serverItem))
            {
                problems.Add($"{path}: missing from the server");
                continue;
            }

            foreach (var method in Methods)
            {
                var p = Get(protoItem, method);
                var s = Get(serverItem, method);
                if (p is null != s is null)
                {
                    problems.Add($"{method.ToUpperInvariant()} {path}: {(p is null ? "only on the server" : "missing from the server")}");
                    continue;
                }

                if (p is null)
                {
                    continue;
                }

                var pCodes = Keys(Get(p, "responses"));
                var sCodes = Keys(Get(s, "responses"));
                if (!pCodes.SetEquals(sCodes))
                {
                    problems.Add($"{method.ToUpperInvariant()} {path}: status codes proto [{string.Join(",", pCodes.Order())}] server [{string.Join(",", sCodes.Order())}]");
                }

                CompareSchemas($"{method.ToUpperInvariant()} {path} request", proto, Body(Get(p, "requestBody")), server, Body(Get(s, "requestBody")), problems, []);
                foreach (var code in pCodes.Intersect(sCodes).Where(c => c.StartsWith('2')))
                {
                    CompareSchemas($"{method.ToUpperInvariant()} {path} {code}", proto, Body(Get(Get(p, "responses"), code)), server, Body(Get(Get(s, "responses"), code)), problems, []);
                }
            }
        }

        // Agent API paths the server serves must be in the contract too (admin and auth are not part of it).
        foreach (var path in serverPaths.Keys.Where(k => k.StartsWith(prefix + "/", StringComparison.Ordinal)))
        {
            var rel = path[prefix.Length..];
            if (!rel.StartsWith("/admin", StringComparison.Ordinal) && !rel.StartsWith("/auth", StringComparison.Ordinal) && !protoPaths.ContainsKey(rel))
            {
                problems.Add($"{rel}: served but not in proto/api.yaml");
            }
        }

        problems.ShouldBeEmpty(string.Join("\n", problems));
    }

    private static void CompareSchemas(string where, Dictionary<string, object?> protoDoc, object? protoSchema, Dictionary<string, object?> serverDoc, object? serverSchema, List<string> problems, HashSet<string> seen)
    {
        var p = Resolve(protoDoc, protoSchema);
        var s = Resolve(serverDoc, serverSchema);
        if (p is null || s is null)
        {
            if (p is null != s is null)
            {
                problems.Add($"{where}: schema {(p is null ? "only on the server" : "missing on the server")}");
            }

            return;
        }

        if (Get(p, "items") is { } pItems)
        {
            CompareSchemas(where + "[]", protoDoc, pItems, serverDoc, Get(s, "items"), problems, seen);
            return;
        }

        if (!seen.Add(where))
        {
            return;
        }

        var pReq = Strings(Get(p, "required"));
        var sReq = Strings(Get(s, "required"));
        if (!pReq.SetEquals(sReq))
        {
            problems.Add($"{where}: required proto [{string.Join(",", pReq.Order())}] server [{string.Join(",", sReq.Order())}]");
        }

        var pProps = Get(p, "properties") as Dictionary<string, object?> ?? [];
        var sProps = Get(s, "properties") as Dictionary<string, object?> ?? [];
        foreach (var (name, pProp) in pProps)
        {
            if (!sProps.TryGetValue(name, out var sProp))
            {
                problems.Add($"{where}.{name}: missing on the server");
                continue;
            }

            var pObj = Resolve(protoDoc, pProp);
            if (pObj is not null && (Get(pObj, "properties") is not null || Get(Resolve(protoDoc, Get(pObj, "items")), "properties") is not null))
            {
                CompareSchemas($"{where}.{name}", protoDoc, pProp, serverDoc, sProp, problems, seen);
            }
        }
    }

    /// <summary>Follows $ref, and picks the non-null branch of oneOf/anyOf [X, null].</summary>
    private static Dictionary<string, object?>? Resolve(Dictionary<string, object?> doc, object? schema)
    {
        for (var i = 0; i < 10 && schema is Dictionary<string, object?> d; i++)
        {
            if (d.TryGetValue("$ref", out var r) && r is string reference)
            {
                object? node = doc;
                foreach (var part in reference.TrimStart('#', '/').Split('/'))
                {
                    node = Get(node, part);
                }

                schema = node;
                continue;
            }

            var alt = Get(d, "oneOf") ?? Get(d, "anyOf");
            if (alt is List<object?> options && Get(d, "properties") is null)
            {
                schema = options.FirstOrDefault(o => !(Get(o, "type") is "null"));
                continue;
            }

            return d;
        }

        return null;
    }

    private static object? Body(object? requestOrResponse) =>
        Get(Get(Get(requestOrResponse, "content"), "application/json"), "schema");

    private static object? Get(object? node, string key) =>
        node is Dictionary<string, object?> d && d.TryGetValue(key, out var v) ? v : null;

    private static HashSet<string> Keys(object? node) =>
        node is Dictionary<string, object?> d ? [.. d.Keys] : [];

    private static HashSet<string> Strings(object? node) =>
        node is List<object?> l ? [.. l.Select(x => x?.ToString() ?? "")] : [];

    private static Dictionary<string, object?> LoadProto()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Tiaki.slnx")))
        {
            dir = dir.Parent;
        }

        var yaml = File.ReadAllText(Path.Combine(dir!.FullName, "proto", "api.yaml"));
        return (Dictionary<string, object?>)FromYaml(new DeserializerBuilder().Build().Deserialize<object>(yaml))!;
    }

    private static object? FromYaml(object? node) => node switch
    {
        Dictionary<object, object?> d => d.ToDictionary(kv => kv.Key.ToString()!, kv => FromYaml(kv.Value)),
        List<object?> l => l.Select(FromYaml).ToList(),
        _ => node,
    };

    private static Dictionary<string, object?> ToPlain(JsonElement e) => (Dictionary<string, object?>)Plain(e)!;

    private static object? Plain(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => e.EnumerateObject().ToDictionary(p => p.Name, p => Plain(p.Value)),
        JsonValueKind.Array => e.EnumerateArray().Select(Plain).ToList(),
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Null => null,
        _ => e.ToString(),
    };
}
