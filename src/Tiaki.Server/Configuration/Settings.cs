using System.Globalization;

namespace Tiaki.Server.Configuration;

/// <summary>Parsing shared by the option classes: a bad value is named in the errors and the default is kept.</summary>
internal static class Settings
{
    public static int Int(string? raw, string key, int fallback, int min, int max, List<string> errors)
    {
        if (raw is null)
        {
            return fallback;
        }

        if (int.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= min && v <= max)
        {
            return v;
        }

        errors.Add($"{key}: must be a whole number from {min} to {max}");
        return fallback;
    }
}
