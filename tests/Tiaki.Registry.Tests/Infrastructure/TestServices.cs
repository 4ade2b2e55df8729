using System.Net;
using System.Net.Sockets;

namespace Tiaki.Testing.Registry;

/// <summary>Addresses of the services scripts/test.sh starts.</summary>
public static class TestServices
{
    /// <summary>host:port of the shared registry (use repositories under registry-tests/...).</summary>
    public static string SharedRegistry =>
        Environment.GetEnvironmentVariable("TIAKI_TEST_REGISTRY") is { Length: > 0 } r
            ? r
            : throw new InvalidOperationException("TIAKI_TEST_REGISTRY is not set: run the tests through ./scripts/test.sh");

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static string UniqueRepository(string name) => $"registry-tests/{name}-{Guid.NewGuid().ToString("N")[..12]}";
}
