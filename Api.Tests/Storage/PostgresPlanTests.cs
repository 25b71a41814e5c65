using System.Net;
using System.Net.Http.Json;
using Dapper;
using Tally.Api.Ledger;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Storage;

/// <summary>
/// The plans PostgreSQL picks for the writer's lookups of a batch (SQLite's are in LeanSchemaTests). On a database
/// whose events table was never analyzed (a new deployment's first minute), a lateral join pulled up into a plain join
/// seeked events by source alone and filtered every head of the source against each id: each batch slower than the
/// last, until autovacuum's first ANALYZE.
/// </summary>
public sealed class PostgresPlanTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_batch_looks_up_heads_and_holds_by_both_key_columns_on_a_table_never_analyzed()
    {
        if (!TestStore.OnPostgres)
            Assert.Skip("PostgreSQL only: SQLite's plans are asserted in LeanSchemaTests");
        await using var app = await TallyApp.StartAsync(new Dictionary<string, string?>());
        using var client = app.Admin();
        var batch = new
        {
            events = Enumerable.Range(0, 2000).Select(i => new
            {
                metric = "notices.issued", occurredOn = "2024-10-10", quantity = 1, orgUnit = "hedong", externalId = $"plan-{i}",
            }).ToArray(),
        };
        var response = await client.PostAsJsonAsync("/api/v1/events/batch", batch, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2000, (await response.ReadJsonAsync())["created"]!.GetValue<int>());

        using var db = app.OpenDatabase();
        var source = db.ExecuteScalar<string>("SELECT source FROM events WHERE external_id = 'plan-0'");
        foreach (var sql in new[] { EventWritePolicy.HeadsOfPostgres, EventWritePolicy.HoldsOfPostgres })
        {
            var plan = string.Join("\n", db.Query<string>("EXPLAIN " + sql, new { source, ids = new[] { "plan-1", "plan-2" } }));
            Assert.Matches(@"Index Cond: .*source.* = .*external_id.* = k\.external_id", plan);
            Assert.DoesNotContain("Join Filter", plan, StringComparison.Ordinal);
            Assert.DoesNotContain("Filter: ((k.external_id", plan, StringComparison.Ordinal);
        }
        var heads = db.Query<string>(EventWritePolicy.HeadsOfPostgres.Replace("h.*", "h.id", StringComparison.Ordinal),
            new { source, ids = new[] { "plan-1", "plan-1999", "not-stored" } }).ToList();
        Assert.Equal(2, heads.Count);
    }
}
