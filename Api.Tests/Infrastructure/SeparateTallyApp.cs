namespace Tally.Api.Tests.Infrastructure;

/// <summary>A TallyApp of its own, for a test class whose data must not meet other tests' (year locks, hedong's report).</summary>
/// <remarks>Only for test classes in the <see cref="SeparateApps"/> collection.</remarks>
public sealed class SeparateTallyApp : IAsyncLifetime
{
    private TallyApp? _app;

    public TallyApp App => _app ?? throw new InvalidOperationException("Not started.");

    public async ValueTask InitializeAsync() => _app = await TallyApp.StartAsync(new Dictionary<string, string?>());

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
            await _app.DisposeAsync();
    }
}

/// <summary>
/// Tests that start a second app run alone, after the parallel ones. FastEndpoints keeps validator singletons
/// process-wide, built from whichever app first serves an endpoint: a second app started alongside the shared one
/// could bind the shared app's validators to its own catalog (and "Unknown org unit" follows). Run last, a second
/// app finds the shared app's validators already built, so its tests must use only the catalog the migrations seed.
/// </summary>
[CollectionDefinition(nameof(SeparateApps), DisableParallelization = true)]
public sealed class SeparateApps;
