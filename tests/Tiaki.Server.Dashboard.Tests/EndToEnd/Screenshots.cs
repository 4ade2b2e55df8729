using Microsoft.Playwright;

namespace Tiaki.Server.Dashboard.Tests.EndToEnd;

/// <summary>Full-page screenshots under the test output, copied to docs/screenshots so they can be reviewed with the code.</summary>
internal static class Screenshots
{
    public static string OutputDir { get; } = Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "screenshots")).FullName;

    public static async Task TakeAsync(IPage page, string name)
    {
        var path = Path.Combine(OutputDir, name + ".png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        if (RepoDocs() is { } docs)
        {
            File.Copy(path, Path.Combine(docs, name + ".png"), overwrite: true);
        }
    }

    private static string? RepoDocs()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Tiaki.slnx")))
            {
                return Directory.CreateDirectory(Path.Combine(dir.FullName, "docs", "screenshots")).FullName;
            }
        }

        return null;
    }
}
