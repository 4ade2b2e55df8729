using System.Reflection;
using System.Xml.Linq;

namespace Tiaki.Architecture.Tests;

/// <summary>
/// Dependencies point one way: contracts ← registry ← agent core ← agents; contracts ← server.
/// Checked twice: on the project files (what a reviewer sees) and on the compiled assemblies'
/// transitive references (what actually ships).
/// </summary>
public sealed class DependencyDirectionTests
{
    private static readonly string[] AgentForbidden = ["Microsoft.AspNetCore", "Microsoft.EntityFrameworkCore", "Npgsql", "Tiaki.Server"];
    private static readonly string[] ServerForbidden = ["Docker.DotNet", "KubernetesClient", "k8s", "Tiaki.Agent", "Tiaki.Registry", "LibGit2Sharp"];

    public static TheoryData<string, string[]> Rules => new()
    {
        { "Tiaki.Contracts", ["Tiaki.", "Microsoft.AspNetCore", "Microsoft.EntityFrameworkCore", "Docker.DotNet", "k8s"] },
        { "Tiaki.Registry", ["Tiaki.", "Microsoft.AspNetCore", "Microsoft.EntityFrameworkCore", "Docker.DotNet", "k8s", "KubernetesClient"] },
        { "Tiaki.Agent.Core", [.. AgentForbidden, "Docker.DotNet", "k8s", "KubernetesClient"] },
        { "tiaki-agent-docker", [.. AgentForbidden, "k8s", "KubernetesClient", "Tiaki.Agent.Kubernetes", "tiaki-agent-k8s"] },
        { "tiaki-agent-k8s", [.. AgentForbidden, "Docker.DotNet", "Tiaki.Agent.Docker", "tiaki-agent-docker"] },
        { "Tiaki.Server", ServerForbidden },
    };

    [Theory]
    [MemberData(nameof(Rules))]
    public void Assembly_TransitiveReferences_StayOnTheirSide(string assemblyName, string[] forbiddenPrefixes)
    {
        var offending = TransitiveReferences(assemblyName)
            .Where(r => r != assemblyName && forbiddenPrefixes.Any(p => r.StartsWith(p, StringComparison.OrdinalIgnoreCase)))
            .Where(r => !AllowedSelfFamily(assemblyName, r))
            .ToList();

        offending.ShouldBeEmpty($"{assemblyName} must not depend on: {string.Join(", ", offending)}");
    }

    [Fact]
    public void ProjectFiles_ReferenceOnlyInwards()
    {
        var allowed = new Dictionary<string, string[]>
        {
            ["Tiaki.Contracts"] = [],
            ["Tiaki.Registry"] = [],
            ["Tiaki.Agent.Core"] = ["Tiaki.Contracts", "Tiaki.Registry"],
            ["Tiaki.Agent.Docker"] = ["Tiaki.Agent.Core"],
            ["Tiaki.Agent.Kubernetes"] = ["Tiaki.Agent.Core"],
            ["Tiaki.Server"] = ["Tiaki.Contracts"],
        };
        var src = Path.Combine(RepoRoot(), "src");
        foreach (var (project, may) in allowed)
        {
            var csproj = XDocument.Load(Path.Combine(src, project, project + ".csproj"));
            var refs = csproj.Descendants("ProjectReference")
                .Select(e => Path.GetFileNameWithoutExtension(e.Attribute("Include")!.Value.Replace('\\', '/')))
                .ToList();
            refs.Except(may).ShouldBeEmpty($"{project} references a project it must not");
        }
        Directory.GetDirectories(src).Select(Path.GetFileName).ShouldBeSubsetOf(allowed.Keys,
            "a new project under src/ needs its dependency rule here");
    }

    // Tiaki.Contracts is referenced by everything Tiaki, so the "Tiaki." prefix rule exempts nothing else.
    private static bool AllowedSelfFamily(string assemblyName, string reference) =>
        assemblyName.StartsWith("Tiaki.Agent", StringComparison.Ordinal) || assemblyName.StartsWith("tiaki-agent", StringComparison.Ordinal)
            ? reference is "Tiaki.Contracts" or "Tiaki.Registry" or "Tiaki.Agent.Core"
            : assemblyName == "Tiaki.Server" && reference == "Tiaki.Contracts";

    private static HashSet<string> TransitiveReferences(string root)
    {
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var queue = new Queue<string>([root]);
        while (queue.TryDequeue(out var name))
        {
            if (!seen.Add(name)) continue;
            Assembly assembly;
            try { assembly = Assembly.Load(new AssemblyName(name)); }
            catch (FileNotFoundException) { continue; } // framework facades not beside the tests
            foreach (var r in assembly.GetReferencedAssemblies())
                if (r.Name is { } n && !n.StartsWith("System", StringComparison.Ordinal) && n != "netstandard" && n != "mscorlib")
                    queue.Enqueue(n);
        }
        return seen;
    }

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Tiaki.slnx"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Tiaki.slnx not found above " + AppContext.BaseDirectory);
    }
}
