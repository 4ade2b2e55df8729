using Microsoft.AspNetCore.Components;
using Tiaki.Server.Features.Live;

namespace Tiaki.Server.Components.Shared;

/// <summary>
/// A page that shows server state and reloads it when the services say it changed (a report ingested, a deploy
/// result, a decision taken in another tab). Bursts of events (fifty agents reporting at once) coalesce into one
/// reload.
/// </summary>
public abstract class LivePage : ComponentBase, IDisposable
{
    private static readonly TimeSpan Coalesce = TimeSpan.FromMilliseconds(150);
    private int _scheduled;
    private bool _disposed;

    [Inject]
    private protected LiveUpdates Live { get; set; } = default!;

    [Inject]
    private protected DashboardScopes Scopes { get; set; } = default!;

    [Inject]
    protected TimeProvider Time { get; set; } = default!;

    protected DateTimeOffset Now => Time.GetUtcNow();

    /// <summary>Loads what the page shows, through the application services.</summary>
    protected abstract Task LoadAsync();

    /// <summary>Whether a change of this kind can alter what the page shows.</summary>
    protected virtual bool Cares(LiveChange change) => true;

    private protected Task<T> Use<TService, T>(Func<TService, Task<T>> action) where TService : notnull => Scopes.RunAsync(action);

    protected override async Task OnInitializedAsync()
    {
        Live.Changed += OnChanged;
        await LoadAsync();
    }

    private void OnChanged(LiveChange change)
    {
        if (!Cares(change) || Interlocked.Exchange(ref _scheduled, 1) == 1)
        {
            return;
        }

        _ = InvokeAsync(async () =>
        {
            await Task.Delay(Coalesce);
            Interlocked.Exchange(ref _scheduled, 0);
            if (_disposed)
            {
                return;
            }

            await LoadAsync();
            StateHasChanged();
        });
    }

    public void Dispose()
    {
        _disposed = true;
        Live.Changed -= OnChanged;
        GC.SuppressFinalize(this);
    }
}
