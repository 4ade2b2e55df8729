using Microsoft.Extensions.Configuration;
using Tiaki.Agent.Kubernetes.Runtime;

namespace Tiaki.Agent.Kubernetes.Tests.Runtime;

public sealed class OptionsTests
{
    private static IConfiguration Config(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => KeyValuePair.Create(v.Key, (string?)v.Value))).Build();

    [Fact]
    public void FromConfiguration_SeveralBadValues_ListsEveryBadKeyByName()
    {
        var (options, errors) = KubernetesRuntimeOptions.FromConfiguration(Config(
            ("WATCH_NAMESPACES", "shop, Bad_Namespace"), ("ROLLOUT_TIMEOUT", "soon"), ("ROLLOUT_POLL_INTERVAL", "-1s")));

        options.ShouldBeNull();
        errors.Count.ShouldBe(3);
        errors.ShouldContain(e => e.StartsWith("WATCH_NAMESPACES:") && e.Contains("Bad_Namespace"));
        errors.ShouldContain(e => e.StartsWith("ROLLOUT_TIMEOUT:"));
        errors.ShouldContain(e => e.StartsWith("ROLLOUT_POLL_INTERVAL:"));
    }

    [Fact]
    public void FromConfiguration_ValidValues_AreParsed()
    {
        var (options, errors) = KubernetesRuntimeOptions.FromConfiguration(Config(
            ("WATCH_NAMESPACES", "shop,ops ,shop"), ("ROLLOUT_TIMEOUT", "5m"), ("ROLLOUT_POLL_INTERVAL", "3")));

        errors.ShouldBeEmpty();
        options!.WatchNamespaces.ShouldBe(["shop", "ops"]);
        options.RolloutTimeout.ShouldBe(TimeSpan.FromMinutes(5));
        options.RolloutPollInterval.ShouldBe(TimeSpan.FromSeconds(3));
    }

    [Fact]
    public void FromConfiguration_NothingSet_WatchesAllNamespacesWithDefaults()
    {
        var (options, errors) = KubernetesRuntimeOptions.FromConfiguration(Config());

        errors.ShouldBeEmpty();
        options!.WatchNamespaces.ShouldBeEmpty();
        options.RolloutTimeout.ShouldBe(TimeSpan.FromMinutes(10));
    }
}
