using Tiaki.Agent.Core.Check;
using Tiaki.Agent.Docker;

using var stop = new CancellationTokenSource();
using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };

if (args is ["check", ..])
    return await CheckCommand.RunAsync(args[1..], Console.Out, Console.Error, stop.Token);

return await DockerAgent.RunAsync(args, Console.Out, Console.Error, stop.Token);
