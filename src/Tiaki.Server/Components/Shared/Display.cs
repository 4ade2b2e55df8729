using System.Globalization;
using MudBlazor;
using Tiaki.Server.Data;

namespace Tiaki.Server.Components.Shared;

/// <summary>How statuses, bump kinds, digests and times read on every page, in one place.</summary>
internal static class Display
{
    public static (string Label, Color Color, string Icon) UpdateStatus(string? status) => status switch
    {
        UpdateStatuses.Pending => ("Update available", Color.Info, Icons.Material.Filled.NewReleases),
        UpdateStatuses.Approved => ("Approved", Color.Primary, Icons.Material.Filled.ThumbUp),
        UpdateStatuses.Deploying => ("Deploying", Color.Warning, Icons.Material.Filled.Sync),
        UpdateStatuses.Deployed => ("Deployed", Color.Success, Icons.Material.Filled.CheckCircle),
        UpdateStatuses.Failed => ("Failed", Color.Error, Icons.Material.Filled.Error),
        UpdateStatuses.Ignored => ("Ignored", Color.Default, Icons.Material.Filled.VisibilityOff),
        UpdateStatuses.RollingBack => ("Rolling back", Color.Warning, Icons.Material.Filled.Undo),
        UpdateStatuses.RolledBack => ("Rolled back", Color.Secondary, Icons.Material.Filled.Undo),
        null => ("Up to date", Color.Success, Icons.Material.Filled.Check),
        _ => (status, Color.Default, Icons.Material.Filled.HelpOutline),
    };

    /// <summary>A major bump may break things; a digest bump is the same tag rebuilt.</summary>
    public static (string Label, Color Color, string Hint) Bump(string? bump) => bump?.ToLowerInvariant() switch
    {
        "major" => ("major", Color.Error, "Major version: may contain breaking changes"),
        "minor" => ("minor", Color.Warning, "Minor version: new features, should be compatible"),
        "patch" => ("patch", Color.Success, "Patch version: fixes only"),
        "digest" => ("digest", Color.Info, "Same tag, new image digest (rebuilt or re-pushed)"),
        _ => ("unknown", Color.Default, "The agent could not tell what kind of change this is"),
    };

    public static string ShortDigest(string? digest)
    {
        if (string.IsNullOrEmpty(digest))
        {
            return "—";
        }

        var hex = digest.Contains(':', StringComparison.Ordinal) ? digest[(digest.IndexOf(':', StringComparison.Ordinal) + 1)..] : digest;
        return hex.Length > 12 ? hex[..12] : hex;
    }

    public static string Ago(DateTimeOffset? at, DateTimeOffset now)
    {
        if (at is not { } t)
        {
            return "never";
        }

        var d = now - t;
        return d.TotalSeconds switch
        {
            < 0 => "in " + Span(-d),
            < 10 => "just now",
            _ => Span(d) + " ago",
        };
    }

    public static string Span(TimeSpan d) =>
        d.TotalMinutes < 1 ? $"{(int)d.TotalSeconds} s"
        : d.TotalHours < 1 ? $"{(int)d.TotalMinutes} min"
        : d.TotalDays < 1 ? $"{(int)d.TotalHours} h"
        : $"{(int)d.TotalDays} d";

    public static string Utc(DateTimeOffset? at) => at is { } t ? t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture) : "—";
}
