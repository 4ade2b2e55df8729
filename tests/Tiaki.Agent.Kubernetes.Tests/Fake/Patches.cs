using System.Text.Json.Nodes;

namespace Tiaki.Agent.Kubernetes.Tests.Fake;

/// <summary>
/// The three patch types the API server accepts on built-in objects, applied the way it applies
/// them: RFC 6902 JSON patch, RFC 7396 merge patch, and strategic merge patch (lists merged by
/// their patchMergeKey from the Kubernetes API schema, with the $patch / $setElementOrder directives).
/// </summary>
internal static class Patches
{
    // patchMergeKey of the list fields in the objects we serve (k8s.io/api struct tags).
    private static readonly Dictionary<string, string> MergeKeys = new(StringComparer.Ordinal)
    {
        ["containers"] = "name",
        ["initContainers"] = "name",
        ["ephemeralContainers"] = "name",
        ["env"] = "name",
        ["ports"] = "containerPort",
        ["volumes"] = "name",
        ["volumeMounts"] = "mountPath",
        ["volumeDevices"] = "devicePath",
        ["imagePullSecrets"] = "name",
        ["ownerReferences"] = "uid",
        ["conditions"] = "type",
        ["hostAliases"] = "ip",
        ["topologySpreadConstraints"] = "topologyKey",
        ["resourceClaims"] = "name",
    };

    public static JsonNode StrategicMerge(JsonNode original, JsonNode patch)
    {
        if (original is not JsonObject o || patch is not JsonObject p)
        {
            return patch.DeepClone();
        }

        if (p["$patch"]?.GetValue<string>() == "replace")
        {
            var replaced = (JsonObject)p.DeepClone();
            replaced.Remove("$patch");
            return replaced;
        }

        var result = (JsonObject)o.DeepClone();
        foreach (var (key, value) in p)
        {
            if (key.StartsWith("$setElementOrder/", StringComparison.Ordinal) || key == "$retainKeys" || key == "$patch")
            {
                // Ordering hints kubectl sends; the element order of our lists does not change by a patch.
                continue;
            }

            if (key.StartsWith("$deleteFromPrimitiveList/", StringComparison.Ordinal))
            {
                var field = key["$deleteFromPrimitiveList/".Length..];
                if (result[field] is JsonArray list && value is JsonArray remove)
                {
                    var drop = remove.Select(r => r?.ToJsonString()).ToHashSet();
                    result[field] = new JsonArray(list.Where(i => !drop.Contains(i?.ToJsonString())).Select(i => i?.DeepClone()).ToArray());
                }

                continue;
            }

            if (value is null)
            {
                result.Remove(key);
            }
            else if (value is JsonObject vo && vo["$patch"]?.GetValue<string>() == "delete")
            {
                result.Remove(key);
            }
            else if (value is JsonArray patchList && result[key] is JsonArray current && MergeKeys.TryGetValue(key, out var mergeKey))
            {
                result[key] = MergeList(current, patchList, mergeKey);
            }
            else if (value is JsonObject && result[key] is JsonObject existing)
            {
                result[key] = StrategicMerge(existing, value);
            }
            else
            {
                result[key] = value.DeepClone();
            }
        }

        return result;
    }

    private static JsonArray MergeList(JsonArray current, JsonArray patch, string mergeKey)
    {
        var items = current.Select(i => i!.DeepClone()).ToList();
        foreach (var element in patch)
        {
            if (element is JsonObject { } e && e["$patch"]?.GetValue<string>() == "replace")
            {
                var replacement = (JsonObject)e.DeepClone();
                replacement.Remove("$patch");
                return new JsonArray(replacement);
            }

            if (element is not JsonObject pe || pe[mergeKey] is not { } keyNode)
            {
                continue;
            }

            var key = keyNode.ToJsonString();
            var index = items.FindIndex(i => i?[mergeKey]?.ToJsonString() == key);
            if (pe["$patch"]?.GetValue<string>() == "delete")
            {
                if (index >= 0)
                {
                    items.RemoveAt(index);
                }
            }
            else if (index >= 0)
            {
                items[index] = StrategicMerge(items[index]!, pe);
            }
            else
            {
                items.Add(pe.DeepClone());
            }
        }

        return new JsonArray([.. items]);
    }

    /// <summary>RFC 7396: objects merge, null deletes, everything else (lists too) replaces.</summary>
    public static JsonNode? MergePatch(JsonNode? original, JsonNode? patch)
    {
        if (patch is not JsonObject p)
        {
            return patch?.DeepClone();
        }

        var result = original is JsonObject o ? (JsonObject)o.DeepClone() : [];
        foreach (var (key, value) in p)
        {
            if (value is null)
            {
                result.Remove(key);
            }
            else
            {
                result[key] = MergePatch(result[key], value);
            }
        }

        return result;
    }

    /// <summary>RFC 6902. Throws <see cref="InvalidOperationException"/> on a failed test or a missing path (the server answers 422).</summary>
    public static JsonNode JsonPatch(JsonNode original, JsonArray operations)
    {
        var doc = original.DeepClone();
        foreach (var op in operations.Cast<JsonObject>())
        {
            var name = op["op"]!.GetValue<string>();
            var path = op["path"]!.GetValue<string>();
            switch (name)
            {
                case "add": doc = Set(doc, path, op["value"]?.DeepClone(), insert: true); break;
                case "replace": Get(doc, path); doc = Set(doc, path, op["value"]?.DeepClone(), insert: false); break;
                case "remove": doc = Remove(doc, path); break;
                case "test":
                    if (Get(doc, path)?.ToJsonString() != op["value"]?.ToJsonString())
                    {
                        throw new InvalidOperationException($"testing value {path} failed");
                    }

                    break;
                case "copy": doc = Set(doc, path, Get(doc, op["from"]!.GetValue<string>())?.DeepClone(), insert: true); break;
                case "move":
                    var from = op["from"]!.GetValue<string>();
                    var moved = Get(doc, from)?.DeepClone();
                    doc = Set(Remove(doc, from), path, moved, insert: true);
                    break;
                default: throw new InvalidOperationException($"unexpected op {name}");
            }
        }

        return doc;
    }

    private static string[] Tokens(string path) =>
        path.Length == 0 ? [] : path[1..].Split('/').Select(t => t.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal)).ToArray();

    private static JsonNode? Get(JsonNode doc, string path)
    {
        JsonNode? node = doc;
        foreach (var t in Tokens(path))
        {
            node = node switch
            {
                JsonObject o when o.ContainsKey(t) => o[t],
                JsonArray a when int.TryParse(t, out var i) && i >= 0 && i < a.Count => a[i],
                _ => throw new InvalidOperationException($"path {path} does not exist"),
            };
        }

        return node;
    }

    private static JsonNode Set(JsonNode doc, string path, JsonNode? value, bool insert)
    {
        var tokens = Tokens(path);
        if (tokens.Length == 0)
        {
            return value ?? throw new InvalidOperationException("cannot replace the document with null");
        }

        var parent = Get(doc, tokens.Length == 1 ? "" : "/" + string.Join('/', tokens[..^1].Select(Escape)));
        var last = tokens[^1];
        switch (parent)
        {
            case JsonObject o:
                o[last] = value;
                break;
            case JsonArray a when last == "-":
                a.Add(value);
                break;
            case JsonArray a when int.TryParse(last, out var i) && i >= 0 && i <= a.Count:
                if (insert)
                {
                    a.Insert(i, value);
                }
                else
                {
                    a[i] = value;
                }

                break;
            default:
                throw new InvalidOperationException($"path {path} does not exist");
        }

        return doc;
    }

    private static JsonNode Remove(JsonNode doc, string path)
    {
        var tokens = Tokens(path);
        var parent = Get(doc, tokens.Length == 1 ? "" : "/" + string.Join('/', tokens[..^1].Select(Escape)));
        var last = tokens[^1];
        switch (parent)
        {
            case JsonObject o when o.ContainsKey(last): o.Remove(last); break;
            case JsonArray a when int.TryParse(last, out var i) && i >= 0 && i < a.Count: a.RemoveAt(i); break;
            default: throw new InvalidOperationException($"path {path} does not exist");
        }

        return doc;
    }

    private static string Escape(string token) => token.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);
}
