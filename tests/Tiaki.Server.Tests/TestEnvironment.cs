using System.Net;
using System.Net.Sockets;

namespace Tiaki.Server.Tests;

/// <summary>Addresses of the real services that scripts/test.sh starts.</summary>
internal static class TestEnvironment
{
    public static string Require(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException($"{name} is not set: run the tests through ./scripts/test.sh, which starts the services they use.");

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
