using System.Runtime.InteropServices;

namespace Tiaki.Registry.Manifests;

/// <summary>An OCI platform: operating system, architecture and optional variant.</summary>
/// <param name="Os">e.g. <c>linux</c>.</param>
/// <param name="Architecture">e.g. <c>amd64</c>, <c>arm64</c>.</param>
/// <param name="Variant">e.g. <c>v7</c> for 32-bit ARM; null when not relevant.</param>
public sealed record Platform(string Os, string Architecture, string? Variant = null)
{
    /// <summary>The platform this process runs on, named as OCI names it.</summary>
    public static Platform Host { get; } = new(
        OperatingSystem.IsWindows() ? "windows" : OperatingSystem.IsMacOS() ? "darwin" : "linux",
        HostArchitecture(RuntimeInformation.OSArchitecture),
        RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.Arm ? "v7" : null);

    private static string HostArchitecture(System.Runtime.InteropServices.Architecture architecture) => architecture switch
        {
            System.Runtime.InteropServices.Architecture.X64 => "amd64",
            System.Runtime.InteropServices.Architecture.Arm64 => "arm64",
            System.Runtime.InteropServices.Architecture.Arm => "arm",
            System.Runtime.InteropServices.Architecture.X86 => "386",
            System.Runtime.InteropServices.Architecture.S390x => "s390x",
            System.Runtime.InteropServices.Architecture.Ppc64le => "ppc64le",
            System.Runtime.InteropServices.Architecture.RiscV64 => "riscv64",
            _ => architecture.ToString().ToLowerInvariant(),
        };

    /// <summary>True when <paramref name="other"/> runs here: same OS and architecture, and same variant when both name one.</summary>
    public bool Matches(Platform other) =>
        string.Equals(Os, other.Os, StringComparison.OrdinalIgnoreCase)
        && string.Equals(Architecture, other.Architecture, StringComparison.OrdinalIgnoreCase)
        && (Variant is null || other.Variant is null || string.Equals(Variant, other.Variant, StringComparison.OrdinalIgnoreCase));

    /// <summary>Parses <c>os/arch[/variant]</c>.</summary>
    public static Platform Parse(string text)
    {
        var parts = text.Split('/');
        return parts.Length is 2 or 3 && parts.All(p => p.Length > 0)
            ? new Platform(parts[0], parts[1], parts.Length == 3 ? parts[2] : null)
            : throw new FormatException($"platform \"{text}\" must be os/arch or os/arch/variant");
    }

    /// <inheritdoc />
    public override string ToString() => Variant is null ? $"{Os}/{Architecture}" : $"{Os}/{Architecture}/{Variant}";
}
