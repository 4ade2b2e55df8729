using System.Text.Json;
using System.Text.RegularExpressions;

namespace Tiaki.Agent.Kubernetes.Tests.Packaging;

/// <summary>
/// Checks values against a chart's values.schema.json for the keywords our schemas use: type,
/// properties, required, additionalProperties:false, enum, pattern, minLength, maxLength, minimum,
/// maximum, items. Helm applies the same schema on install; an unknown keyword fails here loudly.
/// </summary>
internal static class MiniJsonSchema
{
    private static readonly HashSet<string> Known =
        ["$schema", "type", "properties", "required", "additionalProperties", "enum", "pattern", "minLength", "maxLength", "minimum", "maximum", "items"];

    public static List<string> Validate(JsonElement schema, object? value, string path = "")
    {
        var errors = new List<string>();
        foreach (var p in schema.EnumerateObject().Where(p => !Known.Contains(p.Name)))
        {
            throw new NotSupportedException($"schema keyword {p.Name} at {path} is not checked by this validator");
        }

        if (schema.TryGetProperty("type", out var type))
        {
            var ok = type.GetString() switch
            {
                "object" => value is Dictionary<string, object?>,
                "array" => value is List<object?>,
                "string" => value is string,
                "boolean" => value is bool,
                "integer" => value is long,
                _ => throw new NotSupportedException(type.GetString()),
            };
            if (!ok)
            {
                errors.Add($"{Name(path)}: must be {type.GetString()}");
                return errors;
            }
        }

        if (schema.TryGetProperty("enum", out var e) && !e.EnumerateArray().Any(x => x.GetString() == value as string))
        {
            errors.Add($"{Name(path)}: must be one of {string.Join(", ", e.EnumerateArray().Select(x => x.GetString()))}");
        }

        if (value is string s)
        {
            if (schema.TryGetProperty("pattern", out var pattern) && !Regex.IsMatch(s, pattern.GetString()!))
            {
                errors.Add($"{Name(path)}: '{s}' does not match {pattern.GetString()}");
            }

            if (schema.TryGetProperty("minLength", out var min) && s.Length < min.GetInt32())
            {
                errors.Add($"{Name(path)}: shorter than {min.GetInt32()}");
            }

            if (schema.TryGetProperty("maxLength", out var max) && s.Length > max.GetInt32())
            {
                errors.Add($"{Name(path)}: longer than {max.GetInt32()}");
            }
        }

        if (value is long n)
        {
            if (schema.TryGetProperty("minimum", out var min) && n < min.GetInt64())
            {
                errors.Add($"{Name(path)}: below {min.GetInt64()}");
            }

            if (schema.TryGetProperty("maximum", out var max) && n > max.GetInt64())
            {
                errors.Add($"{Name(path)}: above {max.GetInt64()}");
            }
        }

        if (value is Dictionary<string, object?> obj)
        {
            var props = schema.TryGetProperty("properties", out var p) ? p : default;
            foreach (var required in schema.TryGetProperty("required", out var r) ? r.EnumerateArray().Select(x => x.GetString()!) : [])
            {
                if (!obj.ContainsKey(required))
                {
                    errors.Add($"{Name(path + "." + required)}: required");
                }
            }

            foreach (var (key, child) in obj)
            {
                if (props.ValueKind == JsonValueKind.Object && props.TryGetProperty(key, out var childSchema))
                {
                    errors.AddRange(Validate(childSchema, child, path + "." + key));
                }
                else if (schema.TryGetProperty("additionalProperties", out var extra) && extra.ValueKind == JsonValueKind.False)
                {
                    errors.Add($"{Name(path + "." + key)}: not a known setting");
                }
            }
        }

        if (value is List<object?> list && schema.TryGetProperty("items", out var items))
        {
            for (var i = 0; i < list.Count; i++)
            {
                errors.AddRange(Validate(items, list[i], $"{path}[{i}]"));
            }
        }

        return errors;
    }

    private static string Name(string path) => path.TrimStart('.');
}
