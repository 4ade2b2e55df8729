using System.Diagnostics;

namespace Tiaki.Testing.Registry;

/// <summary>A private docker-registry (CNCF distribution) on a free loopback port, stopped on dispose.</summary>
public sealed class RegistryInstance : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _dir;

    private RegistryInstance(Process process, string dir, string host)
    {
        _process = process;
        _dir = dir;
        Host = host;
    }

    public string Host { get; }
    public string StorageRoot => Path.Combine(_dir, "data");

    public static Task<RegistryInstance> StartAnonymousAsync() => StartAsync("");

    public static async Task<RegistryInstance> StartHtpasswdAsync(string user, string password)
    {
        var dir = NewDirectory();
        var htpasswd = Path.Combine(dir, "htpasswd");
        var psi = new ProcessStartInfo("htpasswd") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-Bbn", user, password }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var line = await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        await File.WriteAllTextAsync(htpasswd, line);
        return await StartAsync($"auth: {{htpasswd: {{realm: tiaki-test, path: {htpasswd}}}}}", dir);
    }

    public static Task<RegistryInstance> StartTokenAsync(TokenServer tokens) =>
        StartAsync($"auth: {{token: {{realm: \"{tokens.Realm}\", service: {tokens.Service}, issuer: {tokens.Issuer}, rootcertbundle: {tokens.CertificatePath}}}}}");

    private static async Task<RegistryInstance> StartAsync(string auth, string? dir = null)
    {
        dir ??= NewDirectory();
        var port = TestServices.FreePort();
        var host = $"127.0.0.1:{port}";
        var config = Path.Combine(dir, "config.yml");
        await File.WriteAllTextAsync(config, $"""
            version: 0.1
            log: {"{"}level: error{"}"}
            storage: {"{"}filesystem: {"{"}rootdirectory: {dir}/data{"}"}, delete: {"{"}enabled: true{"}"}{"}"}
            http: {"{"}addr: {host}{"}"}
            {auth}
            """);
        var psi = new ProcessStartInfo("docker-registry") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("serve");
        psi.ArgumentList.Add(config);
        var process = Process.Start(psi)!;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var instance = new RegistryInstance(process, dir, host);
        using var http = new HttpClient();
        for (var i = 0; i < 100; i++)
        {
            try
            {
                using var r = await http.GetAsync($"http://{host}/v2/");
                return instance;
            }
            catch (HttpRequestException)
            {
                await Task.Delay(50);
            }
        }
        await instance.DisposeAsync();
        throw new InvalidOperationException($"docker-registry did not start on {host}");
    }

    // tmpfs when there is one: tests that fill storage directly create thousands of entries.
    private static string NewDirectory() =>
        Directory.Exists("/dev/shm")
            ? Directory.CreateDirectory(Path.Combine("/dev/shm", "tiaki-reg-" + Guid.NewGuid().ToString("N")[..12])).FullName
            : Directory.CreateTempSubdirectory("tiaki-reg-").FullName;

    public async ValueTask DisposeAsync()
    {
        try { _process.Kill(); } catch (InvalidOperationException) { }
        await _process.WaitForExitAsync();
        _process.Dispose();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
