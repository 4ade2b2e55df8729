using System.Text.Json;

namespace Tiaki.Agent.Kubernetes.Tests.Packaging;

public sealed class ChartAndManifestTests
{
    private static readonly string AgentChart = Manifests.Deploy("helm", "tiaki-agent-k8s");
    private static readonly string ServerChart = Manifests.Deploy("helm", "tiaki-server");

    /// <summary>The plain manifests are the charts rendered with these values (users without Helm get the same objects).</summary>
    public static TheoryData<string, string, string, string> PlainManifests => new()
    {
        { "server.yaml", ServerChart, "tiaki-server", "adminToken: {existingSecret: tiaki-server-admin-token}" },
        { "agent-cluster.yaml", AgentChart, "tiaki-agent", "apiKey: {existingSecret: tiaki-agent-api-key}" },
        { "agent-namespaced.yaml", AgentChart, "tiaki-agent", "apiKey: {existingSecret: tiaki-agent-api-key}\nrbac: {scope: namespaced}\nwatchNamespaces: [default]" },
    };

    private static List<Dictionary<string, object?>> AllRenderings() =>
    [
        .. Manifests.Documents(HelmTemplate.RenderChart(ServerChart, "tiaki-server", "tiaki", "adminToken: {value: t}")),
        .. Manifests.Documents(HelmTemplate.RenderChart(ServerChart, "tiaki-server", "tiaki", "adminToken: {value: t}\nreplicas: 2\ndatabase: {existingSecret: db}\npersistence: {enabled: false}")),
        .. Manifests.Documents(HelmTemplate.RenderChart(AgentChart, "tiaki-agent", "tiaki", "apiKey: {value: k}")),
        .. Manifests.Documents(HelmTemplate.RenderChart(AgentChart, "tiaki-agent", "tiaki", "apiKey: {value: k}\nrbac: {scope: namespaced}\nwatchNamespaces: [a, b]")),
        .. Directory.GetFiles(Manifests.Deploy("kubernetes"), "*.yaml").SelectMany(f => Manifests.Documents(File.ReadAllText(f))),
    ];

    [Theory]
    [MemberData(nameof(PlainManifests))]
    public void PlainManifest_EqualsChartRenderedWithDocumentedValues(string file, string chart, string release, string values)
    {
        var rendered = HelmTemplate.RenderChart(chart, release, "tiaki", values);
        var path = Manifests.Deploy("kubernetes", file);
        if (Environment.GetEnvironmentVariable("TIAKI_WRITE_MANIFESTS") == "1")
        {
            // Regenerating after a chart change: TIAKI_WRITE_MANIFESTS=1 ./scripts/test.sh, then review the diff.
            File.WriteAllText(path, Header(file) + rendered);
        }

        var expected = Manifests.Documents(rendered);
        var actual = Manifests.Documents(File.ReadAllText(path));

        JsonSerializer.Serialize(actual).ShouldBe(JsonSerializer.Serialize(expected), $"deploy/kubernetes/{file} is out of date with the chart");
    }

    [Fact]
    public void EveryWorkload_RunsAsNonRootWithoutPrivilege()
    {
        var workloads = AllRenderings().Where(d => d.Kind() is "Deployment" or "StatefulSet" or "DaemonSet").ToList();

        workloads.Count.ShouldBeGreaterThanOrEqualTo(7);
        foreach (var w in workloads)
        {
            var pod = w.PodSpec()!;
            pod.At("securityContext", "runAsNonRoot").ShouldBe(true, w.Name());
            ((long)pod.At("securityContext", "runAsUser")!).ShouldBeGreaterThan(0, w.Name());
            pod.At("securityContext", "seccompProfile", "type").ShouldBe("RuntimeDefault", w.Name());
            foreach (var c in pod.Containers())
            {
                c.At("securityContext", "allowPrivilegeEscalation").ShouldBe(false, w.Name());
                c.At("securityContext", "readOnlyRootFilesystem").ShouldBe(true, w.Name());
                ((List<object?>)c.At("securityContext", "capabilities", "drop")!).ShouldBe(["ALL"], w.Name());
                (c.At("securityContext", "privileged") ?? false).ShouldBe(false, w.Name());
            }
        }
    }

    [Fact]
    public void ServerChart_Defaults_ProbesHitHealthzAndReadyzOnTheServedPort()
    {
        var docs = Manifests.Documents(HelmTemplate.RenderChart(ServerChart, "tiaki-server", "tiaki", "adminToken: {value: t}"));

        var container = docs.OfKind("Deployment").Single().PodSpec()!.Containers().Single();
        container.At("ports", 0, "name").ShouldBe("http");
        container.At("ports", 0, "containerPort").ShouldBe(3001L);
        container.At("livenessProbe", "httpGet", "path").ShouldBe("/healthz");
        container.At("readinessProbe", "httpGet", "path").ShouldBe("/readyz");
        container.At("startupProbe", "httpGet", "path").ShouldBe("/healthz");
        container.At("livenessProbe", "httpGet", "port").ShouldBe("http");
        container.At("readinessProbe", "httpGet", "port").ShouldBe("http");
        Env(container)["PORT"].ShouldBe("3001");
        var service = docs.OfKind("Service").Single();
        (service.At("spec", "ports", 0, "port"), service.At("spec", "ports", 0, "targetPort")).ShouldBe((3001L, "http"));
        // SQLite by default: one writer, so the old pod stops before the new one starts.
        docs.OfKind("Deployment").Single().At("spec", "strategy", "type").ShouldBe("Recreate");
        docs.OfKind("PersistentVolumeClaim").Single().Name().ShouldBe("tiaki-server-data");
        docs.OfKind("Secret").Single().At("stringData", "admin-token").ShouldBe("t");
    }

    [Fact]
    public void ServerChart_PostgresSecret_DatabaseUrlFromSecretAndRollingUpdates()
    {
        var docs = Manifests.Documents(HelmTemplate.RenderChart(ServerChart, "tiaki-server", "tiaki",
            "adminToken: {existingSecret: admin}\nreplicas: 2\ndatabase: {existingSecret: tiaki-db}\npersistence: {enabled: false}"));

        var deployment = docs.OfKind("Deployment").Single();
        deployment.At("spec", "replicas").ShouldBe(2L);
        deployment.At("spec", "strategy").ShouldBeNull();
        var container = deployment.PodSpec()!.Containers().Single();
        var env = ((List<object?>)container["env"]!).Cast<Dictionary<string, object?>>().ToDictionary(e => (string)e["name"]!);
        env["DATABASE_URL"].At("valueFrom", "secretKeyRef", "name").ShouldBe("tiaki-db");
        env["ADMIN_TOKEN"].At("valueFrom", "secretKeyRef", "name").ShouldBe("admin");
        docs.OfKind("Secret").ShouldBeEmpty();
        docs.OfKind("PersistentVolumeClaim").ShouldBeEmpty();
    }

    [Fact]
    public void ServerChart_TwoReplicasOnSqlite_FailsNamingTheFix()
    {
        var e = Should.Throw<HelmTemplate.FailException>(() => HelmTemplate.RenderChart(ServerChart, "tiaki-server", "tiaki", "replicas: 2"));

        e.Message.ShouldContain("database.existingSecret");
    }

    [Fact]
    public void AgentChart_ExistingSecret_RendersNoSecretAndReadsTheKeyFromIt()
    {
        var docs = Manifests.Documents(HelmTemplate.RenderChart(AgentChart, "tiaki-agent", "tiaki",
            "apiKey: {existingSecret: my-key, secretKey: token}\ncontrolUrl: https://tiaki.example.com"));

        docs.OfKind("Secret").ShouldBeEmpty();
        var container = docs.OfKind("Deployment").Single().PodSpec()!.Containers().Single();
        var env = ((List<object?>)container["env"]!).Cast<Dictionary<string, object?>>().ToDictionary(e => (string)e["name"]!);
        env["AGENT_API_KEY"].At("valueFrom", "secretKeyRef", "name").ShouldBe("my-key");
        env["AGENT_API_KEY"].At("valueFrom", "secretKeyRef", "key").ShouldBe("token");
        env["CONTROL_URL"]["value"].ShouldBe("https://tiaki.example.com");
        env["WATCH_NAMESPACES"]["value"].ShouldBe("");
        container["image"].ShouldBe("ghcr.io/tiaki-dev/tiaki-agent-k8s:0.1.0");
        // The agent must not update itself: a failed self-update leaves nobody to roll it back.
        docs.OfKind("Deployment").Single().At("metadata", "annotations", "tiaki.dev/enable").ShouldBe("false");
    }

    [Theory]
    [InlineData("tiaki-agent-k8s")]
    [InlineData("tiaki-server")]
    public void ValuesYaml_MatchesItsSchema(string chart)
    {
        using var schema = JsonDocument.Parse(File.ReadAllText(Manifests.Deploy("helm", chart, "values.schema.json")));

        var errors = MiniJsonSchema.Validate(schema.RootElement, HelmTemplate.Yaml(File.ReadAllText(Manifests.Deploy("helm", chart, "values.yaml"))));

        errors.ShouldBeEmpty();
    }

    [Fact]
    public void AgentValuesSchema_BadValues_RejectedNamingEachKey()
    {
        using var schema = JsonDocument.Parse(File.ReadAllText(Manifests.Deploy("helm", "tiaki-agent-k8s", "values.schema.json")));
        var values = HelmTemplate.Yaml(File.ReadAllText(Manifests.Deploy("helm", "tiaki-agent-k8s", "values.yaml"))) as Dictionary<string, object?>;
        values!["rbac"] = new Dictionary<string, object?> { ["scope"] = "everything" };
        values["watchNamespaces"] = new List<object?> { "Not_A_Namespace" };
        values["controlUrl"] = "tiaki:3001";
        values["apiKeys"] = "typo";

        var errors = MiniJsonSchema.Validate(schema.RootElement, values);

        errors.Count.ShouldBe(4);
        errors.ShouldContain(e => e.StartsWith("rbac.scope:"));
        errors.ShouldContain(e => e.StartsWith("watchNamespaces[0]:"));
        errors.ShouldContain(e => e.StartsWith("controlUrl:"));
        errors.ShouldContain("apiKeys: not a known setting");
    }

    private static Dictionary<string, object?> Env(Dictionary<string, object?> container) =>
        ((List<object?>)container["env"]!).Cast<Dictionary<string, object?>>().Where(e => e.ContainsKey("value")).ToDictionary(e => (string)e["name"]!, e => e["value"]);

    private static string Header(string file) => file switch
    {
        "server.yaml" => """
            # Tiaki control plane without Helm (generated from deploy/helm/tiaki-server; do not edit by hand).
            #   kubectl create namespace tiaki
            #   kubectl -n tiaki create secret generic tiaki-server-admin-token --from-literal=admin-token="$(openssl rand -hex 32)"
            #   kubectl apply -f deploy/kubernetes/server.yaml
            # PostgreSQL instead of SQLite: use the chart (database.existingSecret), or add DATABASE_URL from a Secret.

            """,
        "agent-cluster.yaml" => """
            # Tiaki Kubernetes agent, watching every namespace (generated from deploy/helm/tiaki-agent-k8s; do not edit by hand).
            #   kubectl -n tiaki create secret generic tiaki-agent-api-key --from-literal=api-key=<key from the dashboard>
            #   kubectl apply -f deploy/kubernetes/agent-cluster.yaml
            # Set CONTROL_URL below if the server is not the tiaki-server Service in namespace tiaki.

            """,
        _ => """
            # Tiaki Kubernetes agent limited to listed namespaces, no cluster-wide rights (generated from
            # deploy/helm/tiaki-agent-k8s with watchNamespaces=[default]; do not edit by hand).
            # For other namespaces: copy the Role and RoleBinding per namespace and list them in WATCH_NAMESPACES.
            #   kubectl -n tiaki create secret generic tiaki-agent-api-key --from-literal=api-key=<key from the dashboard>
            #   kubectl apply -f deploy/kubernetes/agent-namespaced.yaml

            """,
    };
}
