using Tiaki.Agent.Core.Processes;

namespace Tiaki.Agent.Docker.Runtime;

/// <summary>
/// Runs <c>docker compose</c> (the v2 plugin most users have) or <c>docker-compose</c> (v1),
/// whichever answers first.
/// </summary>
internal sealed class ComposeCli(IProcessRunner runner, string dockerHost, string dockerCli = "docker", string composeV1 = "docker-compose")
{
    private string[]? command;

    public async Task<string[]?> DetectAsync(CancellationToken ct)
    {
        if (command is not null) return command;
        var v2 = await runner.RunAsync(Spec(new List<string> { dockerCli, "compose", "version" }, null, TimeSpan.FromSeconds(20)), ct);
        if (v2.Succeeded) return command = [dockerCli, "compose"];
        var v1 = await runner.RunAsync(Spec(new List<string> { composeV1, "version" }, null, TimeSpan.FromSeconds(20)), ct);
        if (v1.Succeeded) return command = [composeV1];
        return null;
    }

    public async Task<ProcessResult> UpServiceAsync(string project, string? workingDir, IReadOnlyList<string> files, string service, CancellationToken ct)
    {
        var cmd = await DetectAsync(ct);
        if (cmd is null) return new ProcessResult(-1, "", "", false, "neither 'docker compose' (v2) nor 'docker-compose' (v1) is installed");
        var args = new List<string>(cmd) { "--project-name", project };
        if (workingDir is not null) args.AddRange(["--project-directory", workingDir]);
        foreach (var f in files) args.AddRange(["--file", f]);
        args.AddRange(["up", "--detach", "--no-deps", service]);
        return await runner.RunAsync(Spec(args, workingDir, TimeSpan.FromMinutes(10)), ct);
    }

    private ProcessSpec Spec(List<string> args, string? workingDir, TimeSpan timeout) =>
        new(args[0], args.Skip(1).ToList())
        {
            WorkingDirectory = workingDir is not null && Directory.Exists(workingDir) ? workingDir : null,
            Timeout = timeout,
            Environment = new Dictionary<string, string?> { ["DOCKER_HOST"] = dockerHost },
        };
}
