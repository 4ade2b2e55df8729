using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Tiaki.Agent.Kubernetes.Runtime;

// Composition root. The shared agent loop and the `check` command are wired in here once the core
// lands; until then `scan` prints what the runtime sees (how the NativeAOT build is tried on a cluster).
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

if (args is not ["scan"])
{
    Console.Error.WriteLine("usage: tiaki-agent-k8s scan");
    return 2;
}

using var loggers = LoggerFactory.Create(b => b.AddSimpleConsole());
var runtime = KubernetesRuntimeFactory.Create(options, loggers, TimeProvider.System);
foreach (var c in await runtime.ScanAsync(CancellationToken.None))
{
    Console.WriteLine($"{c.Report.ContainerId}\t{c.ImageReference}\t{c.Report.Digest}");
}

return 0;
