using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Tiaki.Agent.Kubernetes.Runtime;
using Tiaki.Contracts;

// Composition root. The shared agent loop and the `check` command are wired in here once the core
// lands; until then `scan` prints what the runtime sees and `deploy` changes one container's tag with
// the same rollout-following and rollback the agent uses (how the NativeAOT build is tried on a cluster).
var configuration = new ConfigurationBuilder().AddEnvironmentVariables().Build();
var (options, errors) = KubernetesRuntimeOptions.FromConfiguration(configuration);
if (options is null)
{
    foreach (var error in errors)
    {
        Console.Error.WriteLine($"tiaki-agent-k8s: {error}");
    }

    return 2;
}

if (args is not (["scan"] or ["deploy", _, _]))
{
    Console.Error.WriteLine("usage: tiaki-agent-k8s scan | deploy <kind/namespace/workload/container> <tag>");
    return 2;
}

using var loggers = LoggerFactory.Create(b => b.AddSimpleConsole());
var runtime = KubernetesRuntimeFactory.Create(options, loggers, TimeProvider.System);
var scanned = await runtime.ScanAsync(CancellationToken.None);
if (args is ["deploy", var id, var tag])
{
    var target = scanned.FirstOrDefault(c => c.Report.ContainerId == id);
    if (target is null)
    {
        Console.Error.WriteLine($"tiaki-agent-k8s: {id} is not among the scanned containers");
        return 1;
    }

    var outcome = await runtime.ExecuteAsync(new AgentCommand($"cli-{Guid.NewGuid():N}", null, target.Report.Image, tag, null, null), target, CancellationToken.None);
    Console.Write(outcome.Log);
    Console.Error.WriteLine(outcome.Success ? "deployed" : $"failed: {outcome.Error}");
    return outcome.Success ? 0 : 1;
}

foreach (var c in scanned)
{
    Console.WriteLine($"{c.Report.ContainerId}\t{c.ImageReference}\t{c.Report.Digest}");
}

return 0;
