Console.Error.WriteLine("tiaki-agent-k8s: not implemented yet");
return 2;
