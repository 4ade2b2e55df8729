using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Tiaki.Agent.Core.Loop;
using Tiaki.Agent.Kubernetes.Runtime;
using Tiaki.Contracts;

namespace Tiaki.Agent.Kubernetes;

/// <summary>
/// Composition root of the Kubernetes agent: <c>run</c> (the shared agent loop over this runtime),
/// and <c>scan</c> / <c>deploy</c> for trying the runtime on a cluster without a control plane.
/// </summary>
internal static class KubernetesAgent
{
    private const string Program = "tiaki-agent-k8s";

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        var configuration = new ConfigurationBuilder().AddEnvironmentVariables().Build();
        var (options, errors) = KubernetesRuntimeOptions.FromConfiguration(configuration);

        if (args is ["scan"] or ["deploy", _, _])
        {
            if (options is null)
            {
                foreach (var error in errors) await stderr.WriteLineAsync($"{Program}: {error}");
                return 2;
            }
            return await TryOutAsync(args, options, stdout, stderr, ct);
        }

        return await AgentHost.RunAsync(Program, args, errors,
            (_, loggers, _, _, _) => Task.FromResult<Tiaki.Agent.Core.Runtime.IContainerRuntime?>(
                KubernetesRuntimeFactory.Create(options!, loggers, TimeProvider.System)),
            stderr, ct);
    }

    private static async Task<int> TryOutAsync(string[] args, KubernetesRuntimeOptions options, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        using var loggers = LoggerFactory.Create(b => b.AddSimpleConsole());
        var runtime = KubernetesRuntimeFactory.Create(options, loggers, TimeProvider.System);
        var scanned = await runtime.ScanAsync(ct);
        if (args is ["deploy", var id, var tag])
        {
            var target = scanned.FirstOrDefault(c => c.Report.ContainerId == id);
            if (target is null)
            {
                await stderr.WriteLineAsync($"{Program}: {id} is not among the scanned containers");
                return 1;
            }
            var outcome = await runtime.ExecuteAsync(new AgentCommand($"cli-{Guid.NewGuid():N}", null, target.Report.Image, tag, null, null), target, ct);
            await stdout.WriteAsync(outcome.Log);
            await stderr.WriteLineAsync(outcome.Success ? "deployed" : $"failed: {outcome.Error}");
            return outcome.Success ? 0 : 1;
        }
        foreach (var c in scanned)
            await stdout.WriteLineAsync($"{c.Report.ContainerId}\t{c.ImageReference}\t{c.Report.Digest}");
        return 0;
    }
}
