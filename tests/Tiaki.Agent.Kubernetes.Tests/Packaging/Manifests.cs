using YamlDotNet.RepresentationModel;

namespace Tiaki.Agent.Kubernetes.Tests.Packaging;

/// <summary>Finding deploy/ from the test binary, and reading multi-document YAML into plain objects.</summary>
internal static class Manifests
{
    public static string Deploy(params string[] parts)
    {
        var dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "Tiaki.slnx")))
        {
            dir = Path.GetDirectoryName(dir);
        }

        return Path.Combine([dir ?? throw new InvalidOperationException("Tiaki.slnx not found above the test binary"), "deploy", .. parts]);
    }

    public static List<Dictionary<string, object?>> Documents(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return stream.Documents
            .Where(d => d.RootNode is YamlMappingNode { Children.Count: > 0 })
            .Select(d => (Dictionary<string, object?>)HelmTemplate.Convert(d.RootNode)!)
            .ToList();
    }

    public static object? At(this object? node, params object[] path)
    {
        foreach (var step in path)
        {
            node = (node, step) switch
            {
                (Dictionary<string, object?> d, string key) => d.GetValueOrDefault(key),
                (List<object?> l, int i) => i < l.Count ? l[i] : null,
                _ => null,
            };
        }

        return node;
    }

    public static string Kind(this Dictionary<string, object?> doc) => (string)doc["kind"]!;

    public static string Name(this Dictionary<string, object?> doc) => (string)doc.At("metadata", "name")!;

    public static IEnumerable<Dictionary<string, object?>> OfKind(this IEnumerable<Dictionary<string, object?>> docs, string kind) => docs.Where(d => d.Kind() == kind);

    /// <summary>The pod spec of any workload kind.</summary>
    public static Dictionary<string, object?>? PodSpec(this Dictionary<string, object?> doc) =>
        (doc.Kind() == "CronJob" ? doc.At("spec", "jobTemplate", "spec", "template", "spec") : doc.At("spec", "template", "spec")) as Dictionary<string, object?>;

    public static IEnumerable<Dictionary<string, object?>> Containers(this Dictionary<string, object?> podSpec) =>
        ((podSpec.At("initContainers") as List<object?>) ?? []).Concat((podSpec.At("containers") as List<object?>) ?? []).Cast<Dictionary<string, object?>>();

    /// <summary>RBAC rules flattened to (apiGroup, resource, verb) triples, the unit the API server authorizes.</summary>
    public static HashSet<(string Group, string Resource, string Verb)> Rules(this Dictionary<string, object?> role) =>
        ((List<object?>)role["rules"]!).Cast<Dictionary<string, object?>>()
            .SelectMany(r => ((List<object?>)r["apiGroups"]!).Cast<string>()
                .SelectMany(g => ((List<object?>)r["resources"]!).Cast<string>()
                    .SelectMany(res => ((List<object?>)r["verbs"]!).Cast<string>().Select(v => (g, res, v)))))
            .ToHashSet();
}
