using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using Dapper;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Ledger;

/// <summary>Stopping the host (what SIGTERM does) while writes are in flight loses nothing that was acknowledged.</summary>
public sealed class GracefulShutdownTests
{
    private const int Port = 5580;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Stopping_with_writes_in_flight_keeps_every_acknowledged_write_and_refuses_the_rest_cleanly()
    {
        var app = TallyApp.StartKestrel(new Dictionary<string, string?>(), Port);
        await using var _ = app;
        var outcomes = new ConcurrentDictionary<string, string>();
        using var stop = new CancellationTokenSource();
        var acknowledged = 0;

        async Task WriteUntilRefused(int writer)
        {
            using var client = app.Admin();
            for (var i = 0; ; i++)
            {
                var externalId = $"shutdown-{writer}-{i}";
                var batch = i % 4 == 3;
                try
                {
                    using var response = batch
                        ? await client.PostAsJsonAsync("/api/v1/events/batch", new { events = Enumerable.Range(0, 10).Select(k => Event($"{externalId}.{k}")).ToArray() }, CancellationToken.None)
                        : await client.PostAsJsonAsync("/api/v1/events", Event(externalId), CancellationToken.None);
                    outcomes[externalId] = batch ? "batch:" + (int)response.StatusCode : ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture);
                    if (response.IsSuccessStatusCode)
                        Interlocked.Increment(ref acknowledged);
                    else if (stop.IsCancellationRequested)
                        return;
                }
                catch (HttpRequestException)
                {
                    outcomes[externalId] = batch ? "batch:connection" : "connection";
                    return;
                }
            }
        }

        var writers = Enumerable.Range(0, 8).Select(w => Task.Run(() => WriteUntilRefused(w), Ct)).ToArray();
        while (Volatile.Read(ref acknowledged) < 200)
            await Task.Delay(5, Ct);
        await stop.CancelAsync();
        await app.RunningHost!.StopAsync(Ct);
        await Task.WhenAll(writers);

        using var db = app.OpenDatabase();
        var stored = db.Query<string>("SELECT external_id FROM events WHERE external_id LIKE 'shutdown-%'").ToHashSet();
        TestStore.AssertIntact(db);
        foreach (var (externalId, outcome) in outcomes)
        {
            var batch = outcome.StartsWith("batch:", StringComparison.Ordinal);
            var status = batch ? outcome["batch:".Length..] : outcome;
            var ids = batch ? Enumerable.Range(0, 10).Select(k => $"{externalId}.{k}").ToArray() : [externalId];
            var present = ids.Count(stored.Contains);
            Assert.True(present == 0 || present == ids.Length, $"{externalId}: {present} of {ids.Length} stored (torn batch)");
            if (status is "200" or "201")
                Assert.True(present == ids.Length, $"{externalId} was acknowledged ({status}) but is not stored");
            else if (status == "503")
                Assert.True(present == 0, $"{externalId} was refused with 503 but is stored");
            else
                Assert.Equal("connection", status);
        }
        Assert.True(outcomes.Values.Count(v => v is "201" or "batch:200") >= 200);
    }

    private static object Event(string externalId) => new
    {
        metric = "notices.issued", occurredOn = "2024-10-11", quantity = 1, orgUnit = "hedong", externalId, note = "shutdown",
    };
}
