using Docker.DotNet.Models;

namespace Tiaki.Agent.Docker.Runtime;

/// <summary>How a container is re-created on a new image without losing what the user set on it.</summary>
internal static class ContainerSpec
{
    private static readonly string[] SpecialNetworkModes = ["none", "host", "bridge", "default"];

    public static CreateContainerParameters ForNewImage(ContainerInspectResponse old, ImageInspectResponse? oldImage, string newImage)
    {
        var cfg = old.Config ?? new ContainerConfig();
        var hostConfig = old.HostConfig ?? new HostConfig();
        var img = oldImage?.Config;
        var p = new CreateContainerParameters
        {
            Name = old.Name.TrimStart('/'),
            Image = newImage,
            // What the old image set by default is left out, so the new image's defaults apply;
            // what the user set on the container is kept.
            Env = Except(cfg.Env, img?.Env)!,
            Cmd = SameAs(cfg.Cmd, img?.Cmd) ? null! : cfg.Cmd,
            Entrypoint = SameAs(cfg.Entrypoint, img?.Entrypoint) ? null! : cfg.Entrypoint,
            Labels = cfg.Labels?.Where(l => img?.Labels is null || !img.Labels.TryGetValue(l.Key, out var v) || v != l.Value).ToDictionary(l => l.Key, l => l.Value)!,
            WorkingDir = cfg.WorkingDir == img?.WorkingDir ? null! : cfg.WorkingDir,
            User = cfg.User == img?.User ? null! : cfg.User,
            ExposedPorts = cfg.ExposedPorts,
            Healthcheck = img?.Healthcheck is not null && SameAs(cfg.Healthcheck?.Test, img.Healthcheck.Test) ? null! : cfg.Healthcheck,
            StopSignal = cfg.StopSignal == img?.StopSignal ? null! : cfg.StopSignal,
            StopTimeout = cfg.StopTimeout,
            Tty = cfg.Tty,
            OpenStdin = cfg.OpenStdin,
            StdinOnce = cfg.StdinOnce,
            Domainname = cfg.Domainname,
            // Docker defaults the hostname to the short container id; only a chosen one is kept.
            Hostname = cfg.Hostname == old.ID[..12] ? null! : cfg.Hostname,
            HostConfig = hostConfig,
        };
        hostConfig.Binds = KeepAnonymousVolumes(old, hostConfig)!;

        var mode = hostConfig.NetworkMode ?? "default";
        if (!SpecialNetworkModes.Contains(mode) && !mode.StartsWith("container:", StringComparison.Ordinal)
            && old.NetworkSettings?.Networks?.TryGetValue(mode, out var primary) == true && primary is not null)
        {
            p.NetworkingConfig = new NetworkingConfig { EndpointsConfig = new Dictionary<string, EndpointSettings> { [mode] = Endpoint(primary, old) } };
        }
        return p;
    }

    /// <summary>Networks beyond the primary one: the create call takes only one on older engines.</summary>
    public static IEnumerable<(string Network, EndpointSettings Endpoint)> ExtraNetworks(ContainerInspectResponse old)
    {
        var mode = old.HostConfig?.NetworkMode ?? "default";
        if (mode.StartsWith("container:", StringComparison.Ordinal) || mode is "host" or "none") yield break;
        foreach (var (name, ep) in old.NetworkSettings?.Networks ?? new Dictionary<string, EndpointSettings>())
        {
            if (ep is null || name == mode || (mode == "default" && name == "bridge")) continue;
            yield return (name, Endpoint(ep, old));
        }
    }

    private static EndpointSettings Endpoint(EndpointSettings ep, ContainerInspectResponse old) => new()
    {
        IPAMConfig = ep.IPAMConfig,
        Links = ep.Links,
        // The old short id is an automatic alias; the new container gets its own.
        Aliases = ep.Aliases?.Where(a => a != old.ID[..12]).ToList(),
        DriverOpts = ep.DriverOpts,
    };

    /// <summary>Anonymous volumes would be new and empty on the new container: mount the old ones by name.</summary>
    private static List<string>? KeepAnonymousVolumes(ContainerInspectResponse old, HostConfig hostConfig)
    {
        var binds = hostConfig.Binds?.ToList() ?? [];
        var explicitTargets = new HashSet<string>(binds.Select(b => b.Split(':') is { Length: >= 2 } parts ? parts[1] : b), StringComparer.Ordinal);
        foreach (var m in hostConfig.Mounts ?? []) if (m.Target is not null) explicitTargets.Add(m.Target);
        foreach (var m in old.Mounts ?? [])
        {
            if (m.Type == "volume" && !string.IsNullOrEmpty(m.Name) && m.Destination is not null && !explicitTargets.Contains(m.Destination))
                binds.Add($"{m.Name}:{m.Destination}{(m.RW ? "" : ":ro")}");
        }
        return binds.Count == 0 ? null : binds;
    }

    private static List<string>? Except(IList<string>? values, IList<string>? defaults) =>
        values?.Where(v => defaults is null || !defaults.Contains(v)).ToList();

    private static bool SameAs(IList<string>? a, IList<string>? b) =>
        a is null || a.Count == 0 ? b is null || b.Count == 0 : b is not null && a.SequenceEqual(b);
}
