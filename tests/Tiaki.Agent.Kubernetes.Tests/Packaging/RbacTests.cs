namespace Tiaki.Agent.Kubernetes.Tests.Packaging;

/// <summary>Least privilege: the RBAC we ship grants exactly the calls the agent makes, no more and no less.</summary>
public sealed class RbacTests
{
    private static readonly string AgentChart = Manifests.Deploy("helm", "tiaki-agent-k8s");

    [Fact]
    public async Task AgentChart_ClusterScope_GrantsExactlyTheCallsTheAgentMakes()
    {
        var observed = (await AgentCalls.ObserveAsync(namespaces: null)).Select(c => (c.Group, c.Resource, c.Verb)).ToHashSet();

        var docs = Manifests.Documents(HelmTemplate.RenderChart(AgentChart, "tiaki-agent", "tiaki", "apiKey: {value: k}"));

        var role = docs.OfKind("ClusterRole").Single();
        role.Rules().ShouldBe(observed, ignoreOrder: true);
        observed.ShouldContain(("apps", "deployments", "patch"));
        var binding = docs.OfKind("ClusterRoleBinding").Single();
        binding.At("roleRef", "name").ShouldBe(role.Name());
        binding.At("subjects", 0, "name").ShouldBe(docs.OfKind("ServiceAccount").Single().Name());
        binding.At("subjects", 0, "namespace").ShouldBe("tiaki");
        docs.OfKind("Role").ShouldBeEmpty();
    }

    [Fact]
    public async Task AgentChart_NamespacedScope_RolePerWatchedNamespaceCoveringEveryCallAndNothingClusterWide()
    {
        var calls = await AgentCalls.ObserveAsync(namespaces: ["shop", "ops"]);
        calls.ShouldAllBe(c => c.Namespace == "shop" || c.Namespace == "ops");

        var docs = Manifests.Documents(HelmTemplate.RenderChart(AgentChart, "tiaki-agent", "tiaki",
            "apiKey: {value: k}\nrbac: {scope: namespaced}\nwatchNamespaces: [shop, ops]"));

        docs.OfKind("ClusterRole").ShouldBeEmpty();
        docs.OfKind("ClusterRoleBinding").ShouldBeEmpty();
        var roles = docs.OfKind("Role").ToDictionary(r => (string)r.At("metadata", "namespace")!);
        roles.Keys.ShouldBe(["shop", "ops"], ignoreOrder: true);
        foreach (var ns in new[] { "shop", "ops" })
        {
            roles[ns].Rules().ShouldBe(calls.Select(c => (c.Group, c.Resource, c.Verb)).ToHashSet(), ignoreOrder: true);
            docs.OfKind("RoleBinding").Single(b => (string)b.At("metadata", "namespace")! == ns).At("subjects", 0, "namespace").ShouldBe("tiaki");
        }

        var env = docs.OfKind("Deployment").Single().PodSpec()!.Containers().Single()["env"] as List<object?>;
        env!.Cast<Dictionary<string, object?>>().Single(e => (string)e["name"]! == "WATCH_NAMESPACES")["value"].ShouldBe("shop,ops");
    }

    [Fact]
    public void AgentChart_NamespacedWithoutNamespaces_FailsNamingTheValue()
    {
        var e = Should.Throw<HelmTemplate.FailException>(() => HelmTemplate.RenderChart(AgentChart, "tiaki-agent", "tiaki", "rbac: {scope: namespaced}"));

        e.Message.ShouldContain("watchNamespaces");
    }

    [Theory]
    [InlineData("agent-cluster.yaml", "ClusterRole")]
    [InlineData("agent-namespaced.yaml", "Role")]
    public void PlainManifests_AgentRbac_SameRulesAsTheChart(string file, string kind)
    {
        var chartRules = Manifests.Documents(HelmTemplate.RenderChart(AgentChart, "tiaki-agent", "tiaki", "apiKey: {value: k}")).OfKind("ClusterRole").Single().Rules();

        var docs = Manifests.Documents(File.ReadAllText(Manifests.Deploy("kubernetes", file)));

        docs.OfKind(kind).ShouldNotBeEmpty();
        docs.OfKind(kind).ShouldAllBe(r => r.Rules().SetEquals(chartRules));
        docs.OfKind("Deployment").Single().PodSpec()!["serviceAccountName"].ShouldBe(docs.OfKind("ServiceAccount").Single().Name());
    }
}
