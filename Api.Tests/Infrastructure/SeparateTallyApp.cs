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
/// Tests that start a second app run alone, after the parallel ones, so that their counts and timings (year locks,
/// hedong's report, reads counted by a service) meet no other test's. FastEndpoints keeps validator singletons
/// process-wide, built by whichever app first serves an endpoint; validators therefore read the catalog through
/// CatalogCache, which follows the request's own app.
/// </summary>
[CollectionDefinition(nameof(SeparateApps), DisableParallelization = true)]
public sealed class SeparateApps;
