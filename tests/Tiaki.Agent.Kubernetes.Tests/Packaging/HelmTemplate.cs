using System.Globalization;
using System.Text;
using YamlDotNet.RepresentationModel;

namespace Tiaki.Agent.Kubernetes.Tests.Packaging;

/// <summary>
/// Renders the subset of Helm's Go templates our charts use (no helm binary on this machine):
/// <c>{{ .Values.x }}</c>, <c>$</c>, <c>if/else/end</c>, <c>range/end</c>, pipes, parentheses, the
/// functions default, quote, join, printf (%s %d), eq, ne, not, and, or, gt, int, fail, comments
/// and whitespace trimming. Anything else throws, so a chart can't silently outgrow what is tested.
/// </summary>
internal static class HelmTemplate
{
    public sealed class FailException(string message) : Exception(message);

    public static string RenderChart(string chartDir, string releaseName, string ns, string? overridesYaml = null)
    {
        var chart = (Dictionary<string, object?>)Yaml(File.ReadAllText(Path.Combine(chartDir, "Chart.yaml")))!;
        var values = (Dictionary<string, object?>)Yaml(File.ReadAllText(Path.Combine(chartDir, "values.yaml")))!;
        if (overridesYaml is not null)
        {
            values = Merge(values, (Dictionary<string, object?>)Yaml(overridesYaml)!);
        }

        var root = new Dictionary<string, object?>
        {
            ["Values"] = values,
            ["Release"] = new Dictionary<string, object?> { ["Name"] = releaseName, ["Namespace"] = ns },
            ["Chart"] = new Dictionary<string, object?> { ["Name"] = chart["name"], ["Version"] = chart["version"], ["AppVersion"] = chart["appVersion"] },
        };
        var output = new StringBuilder();
        foreach (var file in Directory.GetFiles(Path.Combine(chartDir, "templates"), "*.yaml").Order(StringComparer.Ordinal))
        {
            output.Append("---\n# Source: ").Append(Path.GetFileName(file)).Append('\n');
            output.Append(Render(File.ReadAllText(file), root)).Append('\n');
        }

        return output.ToString();
    }

    /// <summary>YAML to plain objects with Helm's scalar typing: unquoted true/false/ints/null typed, quoted strings kept.</summary>
    public static object? Yaml(string text)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        return stream.Documents.Count == 0 ? null : Convert(stream.Documents[0].RootNode);
    }

    public static object? Convert(YamlNode node) => node switch
    {
        YamlMappingNode m => m.Children.ToDictionary(kv => ((YamlScalarNode)kv.Key).Value!, kv => Convert(kv.Value)),
        YamlSequenceNode s => s.Children.Select(Convert).ToList(),
        YamlScalarNode { Style: YamlDotNet.Core.ScalarStyle.Plain } p => p.Value switch
        {
            null or "" or "~" or "null" => null,
            "true" => true,
            "false" => false,
            var v when long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) => l,
            var v => v,
        },
        YamlScalarNode q => q.Value,
        _ => throw new NotSupportedException(node.GetType().Name),
    };

    private static Dictionary<string, object?> Merge(Dictionary<string, object?> a, Dictionary<string, object?> b)
    {
        var result = new Dictionary<string, object?>(a);
        foreach (var (k, v) in b)
        {
            result[k] = v is Dictionary<string, object?> bv && result.GetValueOrDefault(k) is Dictionary<string, object?> av ? Merge(av, bv) : v;
        }

        return result;
    }

    // ---- parsing ---------------------------------------------------------------------------------

    private abstract record Node;
    private sealed record TextNode(string Text) : Node;
    private sealed record OutputNode(string Expr) : Node;
    private sealed record IfNode(string Expr, List<Node> Then, List<Node> Else) : Node;
    private sealed record RangeNode(string Expr, List<Node> Body) : Node;

    public static string Render(string template, Dictionary<string, object?> root)
    {
        var tokens = Tokenize(template);
        var pos = 0;
        var nodes = ParseBlock(tokens, ref pos, out var end);
        if (end is not null)
        {
            throw new FormatException($"unexpected {{{{ {end} }}}}");
        }

        var sb = new StringBuilder();
        Execute(nodes, root, root, sb);
        return sb.ToString();
    }

    private static List<(bool Action, string Text)> Tokenize(string template)
    {
        var result = new List<(bool, string)>();
        var i = 0;
        while (i < template.Length)
        {
            var open = template.IndexOf("{{", i, StringComparison.Ordinal);
            if (open < 0)
            {
                result.Add((false, template[i..]));
                break;
            }

            var text = template[i..open];
            var close = template.IndexOf("}}", open, StringComparison.Ordinal);
            var inner = template[(open + 2)..close];
            if (inner.StartsWith('-'))
            {
                text = text.TrimEnd();
                inner = inner[1..];
            }

            var trimAfter = inner.EndsWith('-');
            if (trimAfter)
            {
                inner = inner[..^1];
            }

            result.Add((false, text));
            result.Add((true, inner.Trim()));
            i = close + 2;
            if (trimAfter)
            {
                while (i < template.Length && char.IsWhiteSpace(template[i]))
                {
                    i++;
                }
            }
        }

        return result;
    }

    private static List<Node> ParseBlock(List<(bool Action, string Text)> tokens, ref int pos, out string? end)
    {
        var nodes = new List<Node>();
        while (pos < tokens.Count)
        {
            var (action, text) = tokens[pos++];
            if (!action)
            {
                nodes.Add(new TextNode(text));
                continue;
            }

            if (text.StartsWith("/*", StringComparison.Ordinal))
            {
                continue;
            }

            if (text is "end" or "else")
            {
                end = text;
                return nodes;
            }

            if (text.StartsWith("if ", StringComparison.Ordinal))
            {
                var then = ParseBlock(tokens, ref pos, out var stop);
                var otherwise = new List<Node>();
                if (stop == "else")
                {
                    otherwise = ParseBlock(tokens, ref pos, out stop);
                }

                if (stop != "end")
                {
                    throw new FormatException($"unterminated {{{{ {text} }}}}");
                }

                nodes.Add(new IfNode(text[3..], then, otherwise));
            }
            else if (text.StartsWith("range ", StringComparison.Ordinal))
            {
                var body = ParseBlock(tokens, ref pos, out var stop);
                if (stop != "end")
                {
                    throw new FormatException($"unterminated {{{{ {text} }}}}");
                }

                nodes.Add(new RangeNode(text[6..], body));
            }
            else
            {
                nodes.Add(new OutputNode(text));
            }
        }

        end = null;
        return nodes;
    }

    // ---- execution -------------------------------------------------------------------------------

    private static void Execute(List<Node> nodes, object? dot, Dictionary<string, object?> root, StringBuilder sb)
    {
        foreach (var node in nodes)
        {
            switch (node)
            {
                case TextNode t:
                    sb.Append(t.Text);
                    break;
                case OutputNode o:
                    sb.Append(Format(Evaluate(o.Expr, dot, root)));
                    break;
                case IfNode i:
                    Execute(Truthy(Evaluate(i.Expr, dot, root)) ? i.Then : i.Else, dot, root, sb);
                    break;
                case RangeNode r:
                    foreach (var item in Evaluate(r.Expr, dot, root) as IEnumerable<object?> ?? [])
                    {
                        Execute(r.Body, item, root, sb);
                    }

                    break;
            }
        }
    }

    private static string Format(object? value) => value switch
    {
        null => "",
        bool b => b ? "true" : "false",
        long l => l.ToString(CultureInfo.InvariantCulture),
        string s => s,
        _ => throw new NotSupportedException($"cannot print a {value.GetType().Name}: use an explicit field"),
    };

    private static bool Truthy(object? v) => v switch
    {
        null => false,
        bool b => b,
        long l => l != 0,
        string s => s.Length > 0,
        System.Collections.ICollection c => c.Count > 0,
        _ => true,
    };

    private static object? Evaluate(string expr, object? dot, Dictionary<string, object?> root)
    {
        var tokens = Lex(expr);
        var pos = 0;
        var value = Pipeline(tokens, ref pos, dot, root);
        if (pos != tokens.Count)
        {
            throw new FormatException($"unexpected '{tokens[pos]}' in '{expr}'");
        }

        return value;
    }

    private static object? Pipeline(List<string> tokens, ref int pos, object? dot, Dictionary<string, object?> root)
    {
        var value = Command(tokens, ref pos, dot, root, piped: null, hasPiped: false);
        while (pos < tokens.Count && tokens[pos] == "|")
        {
            pos++;
            value = Command(tokens, ref pos, dot, root, value, hasPiped: true);
        }

        return value;
    }

    private static object? Command(List<string> tokens, ref int pos, object? dot, Dictionary<string, object?> root, object? piped, bool hasPiped)
    {
        var head = tokens[pos];
        if (!IsFunction(head))
        {
            pos++;
            return Operand(head, tokens, ref pos, dot, root);
        }

        pos++;
        var args = new List<object?>();
        while (pos < tokens.Count && tokens[pos] is not "|" and not ")")
        {
            var t = tokens[pos++];
            args.Add(Operand(t, tokens, ref pos, dot, root));
        }

        if (hasPiped)
        {
            args.Add(piped);
        }

        return Call(head, args);
    }

    private static object? Operand(string token, List<string> tokens, ref int pos, object? dot, Dictionary<string, object?> root)
    {
        if (token == "(")
        {
            var inner = Pipeline(tokens, ref pos, dot, root);
            if (pos >= tokens.Count || tokens[pos] != ")")
            {
                throw new FormatException("missing )");
            }

            pos++;
            return inner;
        }

        if (token.StartsWith('"'))
        {
            return token[1..^1].Replace("\\\"", "\"", StringComparison.Ordinal);
        }

        if (long.TryParse(token, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n))
        {
            return n;
        }

        if (token is "true" or "false")
        {
            return token == "true";
        }

        object? current;
        string path;
        if (token.StartsWith('$'))
        {
            current = root;
            path = token[1..];
        }
        else if (token.StartsWith('.'))
        {
            current = dot;
            path = token;
        }
        else
        {
            throw new NotSupportedException($"'{token}' is not a function or value this renderer knows");
        }

        foreach (var field in path.Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            current = current is Dictionary<string, object?> d ? d.GetValueOrDefault(field) : null;
        }

        return current;
    }

    private static bool IsFunction(string token) =>
        token is "default" or "quote" or "join" or "printf" or "eq" or "ne" or "not" or "and" or "or" or "gt" or "int" or "fail";

    private static object? Call(string name, List<object?> a)
    {
        return name switch
        {
            "default" => Truthy(a.ElementAtOrDefault(1)) ? a[1] : a[0],
            "quote" => "\"" + Format(a[0]).Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"",
            "join" => string.Join((string)a[0]!, (a[1] as IEnumerable<object?> ?? []).Select(Format)),
            "printf" => Printf((string)a[0]!, a.Skip(1).ToList()),
            "eq" => Equals(a[0], a[1]),
            "ne" => !Equals(a[0], a[1]),
            "not" => !Truthy(a[0]),
            "and" => a.All(Truthy),
            "or" => a.Any(Truthy),
            "gt" => System.Convert.ToInt64(a[0], CultureInfo.InvariantCulture) > System.Convert.ToInt64(a[1], CultureInfo.InvariantCulture),
            "int" => System.Convert.ToInt64(a[0] ?? 0L, CultureInfo.InvariantCulture),
            "fail" => throw new FailException(Format(a[0])),
            _ => throw new NotSupportedException(name),
        };
    }

    private static string Printf(string format, List<object?> args)
    {
        var sb = new StringBuilder();
        var next = 0;
        for (var i = 0; i < format.Length; i++)
        {
            if (format[i] == '%' && i + 1 < format.Length && format[i + 1] is 's' or 'd')
            {
                sb.Append(Format(args[next++]));
                i++;
            }
            else
            {
                sb.Append(format[i]);
            }
        }

        return sb.ToString();
    }

    private static List<string> Lex(string expr)
    {
        var tokens = new List<string>();
        var i = 0;
        while (i < expr.Length)
        {
            var c = expr[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
            }
            else if (c is '(' or ')' or '|')
            {
                tokens.Add(c.ToString());
                i++;
            }
            else if (c == '"')
            {
                var j = i + 1;
                while (expr[j] != '"' || expr[j - 1] == '\\')
                {
                    j++;
                }

                tokens.Add(expr[i..(j + 1)]);
                i = j + 1;
            }
            else
            {
                var j = i;
                while (j < expr.Length && !char.IsWhiteSpace(expr[j]) && expr[j] is not '(' and not ')' and not '|')
                {
                    j++;
                }

                tokens.Add(expr[i..j]);
                i = j;
            }
        }

        return tokens;
    }
}
