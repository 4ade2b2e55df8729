using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Tiaki.Agent.Core.Updates;
using Tiaki.Agent.Kubernetes.Tests.Fake;
using Tiaki.Contracts;
using Tiaki.Testing.Registry;
using static Tiaki.Agent.Kubernetes.Tests.Runtime.RuntimeHarness;

namespace Tiaki.Agent.Kubernetes.Tests.Runtime;

/// <summary>
/// Private registries: the update check of a workload uses its <c>imagePullSecrets</c>, against a
/// real htpasswd-protected docker-registry, and the credentials never reach the control plane.
/// </summary>
public sealed class PullSecretTests : IAsyncLifetime
{
    private const string User = "robot";
    private readonly string password = "pw-" + Guid.NewGuid().ToString("N");
    private readonly string noAuthFile = Path.Combine(Path.GetTempPath(), "tiaki-no-auth-" + Guid.NewGuid().ToString("N"), "config.json");
    private RegistryInstance registry = null!;
    private FakeKubeApiServer cluster = null!;
    private string image = "";

    public async Task InitializeAsync()
    {
        registry = await RegistryInstance.StartHtpasswdAsync(User, password);
        cluster = await FakeKubeApiServer.StartAsync();
        image = $"{registry.Host}/k8s-secret/app";
        var basic = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{User}:{password}")));
        using var pusher = new ImagePusher(registry.Host, _ => basic);
        cluster.SetDigest($"{image}:1.0.0", await pusher.PushImageAsync("k8s-secret/app", "1.0.0"));
        await pusher.PushImageAsync("k8s-secret/app", "1.0.1");
    }

    public async Task DisposeAsync()
    {
        await cluster.DisposeAsync();
        await registry.DisposeAsync();
        if (Directory.Exists(Path.GetDirectoryName(noAuthFile))) Directory.Delete(Path.GetDirectoryName(noAuthFile)!, recursive: true);
    }

    [Theory]
    [InlineData("kubernetes.io/dockerconfigjson")]
    [InlineData("kubernetes.io/dockercfg")]
    public async Task CheckAsync_WorkloadWithPullSecret_FindsUpdateInPrivateRegistry(string secretType)
    {
        cluster.Create(Objects.PullSecret("shop", "regcred", registry.Host, User, password, secretType));
        cluster.Create(Objects.Deployment("shop", "web", $"{image}:1.0.0", pullSecrets: ["regcred"]));

        var check = (await CheckAsync()).ShouldHaveSingleItem();

        check.Error.ShouldBeNull();
        check.Update.ShouldNotBeNull().LatestTag.ShouldBe("1.0.1");
        cluster.Calls.ShouldContain(("", "secrets", "get", "shop"));
    }

    [Fact]
    public async Task CheckAsync_AuthFileHasStaleCredentialsForTheSameRegistry_PullSecretWins()
    {
        var authFile = Path.Combine(Path.GetDirectoryName(noAuthFile)!, "stale.json");
        Directory.CreateDirectory(Path.GetDirectoryName(authFile)!);
        await File.WriteAllTextAsync(authFile, new System.Text.Json.Nodes.JsonObject
        {
            ["auths"] = new System.Text.Json.Nodes.JsonObject { [registry.Host] = new System.Text.Json.Nodes.JsonObject { ["auth"] = Convert.ToBase64String(Encoding.UTF8.GetBytes("stale:wrong")) } },
        }.ToJsonString());
        cluster.Create(Objects.PullSecret("shop", "regcred", registry.Host, User, password));
        cluster.Create(Objects.Deployment("shop", "web", $"{image}:1.0.0", pullSecrets: ["regcred"]));
        cluster.Create(Objects.Deployment("shop", "legacy", $"{image}:1.0.0"));

        var checks = await CheckAsync(authFile);

        checks.Single(c => c.Container.Report.Name == "web/app").Update.ShouldNotBeNull().LatestTag.ShouldBe("1.0.1");
        // The other workload has no secret: the auth file answers for it, and is refused.
        checks.Single(c => c.Container.Report.Name == "legacy/app").Error.ShouldNotBeNull().ShouldContain("401");
    }

    [Fact]
    public async Task CheckAsync_PullSecretOnlyOnThePods_UsedLikeKubeletDoes()
    {
        // The service account's imagePullSecrets: admission adds them to each pod, not to the CronJob's template.
        cluster.Create(Objects.PullSecret("ops", "sa-regcred", registry.Host, User, password));
        cluster.Create(Objects.CronJob("ops", "backup", $"{image}:1.0.0"));
        var pod = System.Text.Json.Nodes.JsonNode.Parse(Objects.CronJobPod("ops", "backup", $"{image}:1.0.0", $"{image}@{cluster.DigestOf($"{image}:1.0.0")}"))!;
        pod["spec"]!["imagePullSecrets"] = new System.Text.Json.Nodes.JsonArray(new System.Text.Json.Nodes.JsonObject { ["name"] = "sa-regcred" });
        cluster.Create(pod.ToJsonString());

        var check = (await CheckAsync()).ShouldHaveSingleItem();

        check.Error.ShouldBeNull();
        check.Update.ShouldNotBeNull().LatestTag.ShouldBe("1.0.1");
    }

    [Fact]
    public async Task CheckAsync_WorkloadWithoutPullSecret_FailsSayingTheRegistryRefused()
    {
        cluster.Create(Objects.Deployment("shop", "web", $"{image}:1.0.0"));

        var check = (await CheckAsync()).ShouldHaveSingleItem();

        check.Update.ShouldBeNull();
        check.Error.ShouldNotBeNull().ShouldContain("refused access");
        check.Error.ShouldContain("401");
        check.Error.ShouldContain($"check the credentials for {registry.Host}");
    }

    [Fact]
    public async Task CheckAsync_SecretsDeniedByRbac_ScanGoesOnAndCheckFailsLikeWithoutSecret()
    {
        cluster.Create(Objects.PullSecret("shop", "regcred", registry.Host, User, password));
        cluster.Create(Objects.Deployment("shop", "web", $"{image}:1.0.0", pullSecrets: ["regcred"]));
        cluster.Deny("get", "secrets");

        var check = (await CheckAsync()).ShouldHaveSingleItem();

        check.Container.RegistryCredentials.ShouldBeNull();
        check.Error.ShouldNotBeNull().ShouldContain("refused access");
        check.Error.ShouldContain("401");
        check.Error.ShouldContain($"check the credentials for {registry.Host}");
    }

    [Fact]
    public async Task ScanAsync_TwoWorkloadsShareASecret_ReadOncePerScanAndNeverInTheReport()
    {
        cluster.Create(Objects.PullSecret("shop", "regcred", registry.Host, User, password));
        cluster.Create(Objects.Deployment("shop", "web", $"{image}:1.0.0", pullSecrets: ["regcred"]));
        cluster.Create(Objects.Deployment("shop", "api", $"{image}:1.0.0", pullSecrets: ["regcred", "missing"]));
        var runtime = NewRuntime(cluster);

        var scanned = await runtime.ScanAsync(CancellationToken.None);

        scanned.Count.ShouldBe(2);
        scanned.ShouldAllBe(c => c.RegistryCredentials![registry.Host].Password == password);
        cluster.Calls.Count(c => c.Resource == "secrets").ShouldBe(2); // regcred once, missing once
        var report = JsonSerializer.Serialize(new SubmitReportRequest(scanned.Select(c => c.Report).ToList()), ContractsJsonContext.Default.SubmitReportRequest);
        report.ShouldNotContain(password);
        report.ShouldNotContain(User);
        scanned[0].ToString().ShouldNotContain(password);
    }

    private async Task<IReadOnlyList<ContainerCheck>> CheckAsync(string? authFile = null)
    {
        var runtime = NewRuntime(cluster);
        var scanned = await runtime.ScanAsync(CancellationToken.None);
        // No docker config.json of the machine running the tests may answer for this registry.
        using var checker = new UpdateChecker(new UpdateCheckerOptions { InsecureRegistries = [registry.Host], AuthFile = authFile ?? noAuthFile, MaxAttempts = 1 });
        return await checker.CheckAsync(scanned, CancellationToken.None);
    }
}
