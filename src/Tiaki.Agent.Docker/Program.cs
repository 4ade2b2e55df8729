Console.Error.WriteLine("tiaki-agent-docker: not implemented yet");
return 2;
