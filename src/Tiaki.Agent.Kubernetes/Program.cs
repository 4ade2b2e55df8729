using Tiaki.Agent.Core.Check;

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };

if (args.Length > 0 && args[0] == "check")
    return await CheckCommand.RunAsync(args[1..], Console.Out, Console.Error, cancel.Token);

Console.Error.WriteLine("usage: tiaki-agent-k8s check IMAGE[:TAG] [IMAGE...] [--json] ...");
return 2;
