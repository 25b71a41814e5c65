using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Tally.Api.Features.Imports;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Imports;

/// <summary>
/// An import is stored in pieces other writers come between, and becomes visible whole at its end (ImportStaging): what
/// everyone else sees while an import is held between two of its pieces, and what its end leaves.
/// </summary>
public sealed class ImportPieceTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Holds an import after its first piece until the test lets it go on.</summary>
    private sealed class HoldAfterFirstPiece : IImportPieceGate
    {
        private readonly TaskCompletionSource _held = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Held => _held.Task;

        public void Release() => _released.TrySetResult();

        public async Task AfterPieceAsync(ImportJob job, int piecesStored)
        {
            if (piecesStored != 1)
                return;
            _held.TrySetResult();
            await _released.Task.WaitAsync(TimeSpan.FromMinutes(2));
        }
    }

    /// <summary>An app storing imports in pieces of two rows, with the gate, an org unit and a writer of source "sheets".</summary>
    private sealed record Setup(TallyApp App, HoldAfterFirstPiece Gate, string Unit, HttpClient Writer) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            Gate.Release();
            Writer.Dispose();
            await App.DisposeAsync();
        }
    }

    private static async Task<Setup> StartAsync()
    {
        var gate = new HoldAfterFirstPiece();
        var app = await TallyApp.StartAsync(new Dictionary<string, string?> { ["Tally:Limits:Imports:PieceRows"] = "2" },
            services => services.AddSingleton<IImportPieceGate>(gate));
        var unit = await app.OrgUnitAsync();
        return new Setup(app, gate, unit, await app.ClientWithAsync(["events:write"], source: "sheets"));
    }

    private static string Csv(string unit, params (string ExternalId, int Day, int Quantity)[] rows) =>
        "metric,occurredOn,quantity,orgUnit,externalId\n"
        + string.Concat(rows.Select(r => $"notices.issued,2024-03-{r.Day:D2},{r.Quantity},{unit},{r.ExternalId}\n"));

    private static async Task<string> StartImportAsync(HttpClient client, string csv, string query = "")
    {
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes(csv));
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("text/csv");
        var response = await client.PostAsync($"/api/v1/imports?{query}", content, Ct);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return (await response.ReadJsonAsync())["id"]!.GetValue<string>();
    }

    private static async Task<JsonNode> EndedAsync(HttpClient client, string id)
    {
        var deadline = DateTime.UtcNow.AddMinutes(5);
        while (true)
        {
            var import = await client.GetJsonAsync($"/api/v1/imports/{id}");
            if (import["status"]!.GetValue<string>() is "succeeded" or "failed")
                return import;
            Assert.True(DateTime.UtcNow < deadline, import.ToJsonString());
            await Task.Delay(20, Ct);
        }
    }

    private static async Task<long> TotalAsync(HttpClient reader, string unit)
    {
        var rows = (await reader.GetJsonAsync($"/api/v1/totals?year=2024&orgUnit={unit}&metric=notices.issued"))["rows"]!.AsArray();
        return rows.Count == 0 ? 0 : rows[0]!["value"]!.GetValue<long>();
    }

    private static Task<HttpResponseMessage> PostAsync(HttpClient client, string unit, string externalId, int quantity, int day = 20) =>
        client.PostAsJsonAsync("/api/v1/events",
            new { metric = "notices.issued", occurredOn = $"2024-03-{day:D2}", quantity, orgUnit = unit, externalId }, Ct);

    [Fact]
    public async Task Others_write_between_an_import_s_pieces_and_see_none_of_it_until_it_ends_whole_after_their_events()
    {
        await using var setup = await StartAsync();
        var (app, gate, unit, writer) = setup;
        using var reader = await app.ClientWithAsync(["totals:read", "events:read"]);
        var id = await StartImportAsync(writer, Csv(unit, ("r1", 1, 1), ("r2", 2, 2), ("r3", 3, 4), ("r4", 4, 8), ("r5", 5, 16)), "name=pieces");
        await gate.Held.WaitAsync(TimeSpan.FromMinutes(2), Ct);

        // Held after its first piece: two rows are staged, none is visible, and the writer serves everyone else.
        var between = await PostAsync(writer, unit, "between", 100);
        Assert.Equal(HttpStatusCode.Created, between.StatusCode);
        var betweenId = (await between.ReadJsonAsync())["id"]!.GetValue<string>();
        Assert.Equal(100, await TotalAsync(reader, unit));
        Assert.Equal([betweenId], (await reader.GetJsonAsync($"/api/v1/events?orgUnit={unit}"))["items"]!.AsArray()
            .Select(e => e!["id"]!.GetValue<string>()));
        // A staged externalId is held: its writer is told to retry, and nothing of its request is stored.
        var held = await PostAsync(writer, unit, "r1", 1);
        var problem = await held.AssertProblemAsync(503, "/problems/unavailable");
        Assert.NotNull(held.Headers.RetryAfter);
        Assert.Contains(id, problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        // So it is in a batch, whose items' heads are looked up together: the whole batch is refused, none of it stored.
        var batch = await writer.PostAsJsonAsync("/api/v1/events/batch", new
        {
            events = new[] { "fresh-1", "r2", "fresh-2" }.Select(externalId =>
                new { metric = "notices.issued", occurredOn = "2024-03-20", quantity = 1, orgUnit = unit, externalId }),
        }, Ct);
        Assert.Contains("r2", (await batch.AssertProblemAsync(503, "/problems/unavailable"))["detail"]!.GetValue<string>(),
            StringComparison.Ordinal);
        Assert.Equal(2, (await writer.GetJsonAsync($"/api/v1/imports/{id}"))["processed"]!.GetValue<int>());
        using (var db = app.OpenDatabase())
            Assert.Equal(1, db.ExecuteScalar<int>("SELECT count(*) FROM events WHERE org_unit = @unit", new { unit }));

        gate.Release();
        var import = await EndedAsync(writer, id);

        Assert.Equal("succeeded", import["status"]!.GetValue<string>());
        Assert.Equal(5, import["summary"]!["created"]!.GetValue<int>());
        Assert.Equal(131, await TotalAsync(reader, unit));
        using (var db = app.OpenDatabase())
        {
            // In commit order: the event posted between the pieces first, then the import's, in file order, all of one
            // instant and one audit entry, with ids that sort as seq does.
            var events = db.Query<(string Id, string? ExternalId, string RecordedAt, long AuditSeq)>(
                "SELECT id, external_id, recorded_at, audit_seq FROM events WHERE org_unit = @unit ORDER BY seq", new { unit }).ToList();
            Assert.Equal(["between", "r1", "r2", "r3", "r4", "r5"], events.Select(e => e.ExternalId));
            Assert.Equal(events.Select(e => e.Id).Order(StringComparer.Ordinal), events.Select(e => e.Id));
            Assert.Single(events.Skip(1).Select(e => (e.RecordedAt, e.AuditSeq)).Distinct());
            Assert.True(string.CompareOrdinal(events[0].RecordedAt, events[1].RecordedAt) < 0);
            Assert.Equal(5, db.ExecuteScalar<int>($"SELECT {TestStore.JsonText(db, "data", "events")} FROM audit_log WHERE seq = @seq",
                new { seq = events[1].AuditSeq }));
        }
        // Once it is in, the held externalId answers as any stored one: the same content again is unchanged.
        Assert.Equal(HttpStatusCode.OK, (await PostAsync(writer, unit, "r1", 1, day: 1)).StatusCode);
        var verify = await app.Admin().GetJsonAsync("/api/v1/audit/verify");
        Assert.True(verify["valid"]!.GetValue<bool>(), verify.ToJsonString());
    }

    [Fact]
    public async Task An_import_refused_in_a_late_piece_stores_nothing_and_lets_go_of_what_it_staged()
    {
        await using var setup = await StartAsync();
        var (app, gate, unit, writer) = setup;
        gate.Release();
        Assert.Equal(HttpStatusCode.Created, (await PostAsync(writer, unit, "r5", 7)).StatusCode);

        var import = await EndedAsync(writer, await StartImportAsync(writer,
            Csv(unit, ("r1", 1, 1), ("r2", 2, 2), ("r3", 3, 4), ("r4", 4, 8), ("r5", 5, 16)), "name=late-conflict"));

        Assert.Equal("failed", import["status"]!.GetValue<string>());
        // The header is row 1: r5 is row 6, the only error.
        var error = Assert.Single(import["errors"]!.AsArray());
        Assert.Equal((6, "externalId"), (error!["row"]!.GetValue<int>(), error["field"]!.GetValue<string>()));
        Assert.Equal(0, import["summary"]!["created"]!.GetValue<int>());
        using (var db = app.OpenDatabase())
        {
            Assert.Equal(["r5"], db.Query<string>("SELECT external_id FROM events WHERE org_unit = @unit", new { unit }));
            Assert.Equal(7, db.ExecuteScalar<long>("SELECT sum(value) FROM monthly_unit_rollups WHERE org_unit = @unit", new { unit }));
        }
        // What it had staged is free again, the first piece's rows and the second's.
        Assert.Equal(HttpStatusCode.Created, (await PostAsync(writer, unit, "r1", 1)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await PostAsync(writer, unit, "r4", 8)).StatusCode);
    }

    [Fact]
    public async Task A_year_locked_while_an_import_is_between_pieces_refuses_it_whole()
    {
        await using var setup = await StartAsync();
        var (app, gate, unit, writer) = setup;
        // Two rows: the first piece decides both, so the lock is met by the publish, not by a later piece's row.
        var id = await StartImportAsync(writer, Csv(unit, ("r1", 1, 1), ("r2", 2, 2)), "name=locked-between");
        await gate.Held.WaitAsync(TimeSpan.FromMinutes(2), Ct);

        var locked = await app.Admin().PostAsJsonAsync("/api/v1/periods/2024/lock", new { reason = "年报已发布" }, Ct);
        Assert.Equal(HttpStatusCode.OK, locked.StatusCode);
        gate.Release();
        var import = await EndedAsync(writer, id);

        Assert.Equal("failed", import["status"]!.GetValue<string>());
        Assert.Equal("The year 2024 is locked; nothing of this request was stored.", import["detail"]!.GetValue<string>());
        Assert.Equal(0, import["summary"]!["created"]!.GetValue<int>());
        using var db = app.OpenDatabase();
        Assert.Equal(0, db.ExecuteScalar<int>("SELECT count(*) FROM events WHERE org_unit = @unit", new { unit }));
    }

    /// <summary>
    /// r1 is stored; the upsert's file has r1 again, changed (the import will supersede it at its end) or the same
    /// (unchanged). Either way the import decided against r1's stored event, so nobody may change that event meanwhile.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_stored_head_an_upsert_in_pieces_decided_against_is_held_until_it_ends(bool changed)
    {
        await using var setup = await StartAsync();
        var (app, gate, unit, writer) = setup;
        Assert.Equal(HttpStatusCode.Created, (await PostAsync(writer, unit, "r1", 1, day: 1)).StatusCode);
        var r1 = changed ? ("r1", 20, 50) : ("r1", 1, 1);
        var id = await StartImportAsync(writer, Csv(unit, r1, ("r2", 2, 2), ("r3", 3, 4)), $"name=held-{changed}&mode=upsert");
        await gate.Held.WaitAsync(TimeSpan.FromMinutes(2), Ct);

        var meanwhile = await writer.PutAsJsonAsync("/api/v1/events/external/r1",
            new { metric = "notices.issued", occurredOn = "2024-03-01", quantity = 9, orgUnit = unit }, Ct);
        gate.Release();
        await meanwhile.AssertProblemAsync(503, "/problems/unavailable");
        var import = await EndedAsync(writer, id);

        Assert.Equal("succeeded", import["status"]!.GetValue<string>());
        var summary = import["summary"]!;
        Assert.Equal((2, changed ? 0 : 1, changed ? 1 : 0),
            (summary["created"]!.GetValue<int>(), summary["unchanged"]!.GetValue<int>(), summary["superseded"]!.GetValue<int>()));
        using (var db = app.OpenDatabase())
        {
            Assert.Equal(changed ? [(1L, "superseded"), (50L, null)] : [(1L, (string?)null)],
                db.Query<(long, string?)>("SELECT quantity, void_reason FROM events WHERE external_id = 'r1' ORDER BY seq"));
            Assert.Equal(changed ? 56 : 7,
                db.ExecuteScalar<long>("SELECT sum(value) FROM monthly_unit_rollups WHERE org_unit = @unit", new { unit }));
        }
        // Once it has ended, r1 is anybody's to change again.
        var after = await writer.PutAsJsonAsync("/api/v1/events/external/r1",
            new { metric = "notices.issued", occurredOn = "2024-03-01", quantity = 9, orgUnit = unit }, Ct);
        Assert.True(after.IsSuccessStatusCode, await after.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task Rows_left_staged_by_an_import_whose_drop_failed_are_dropped_when_the_next_import_starts()
    {
        await using var setup = await StartAsync();
        var (app, gate, unit, writer) = setup;
        gate.Release();
        await app.Services.GetRequiredService<Tally.Api.Ledger.LedgerWriter>().SubmitAsync(new StageLeftover(unit), Ct);
        var held = await PostAsync(writer, unit, "left", 1);
        Assert.Contains("imp_left", (await held.AssertProblemAsync(503, "/problems/unavailable"))["detail"]!.GetValue<string>(), StringComparison.Ordinal);

        var import = await EndedAsync(writer, await StartImportAsync(writer, Csv(unit, ("r1", 1, 1)), "name=after-leftover"));

        Assert.Equal("succeeded", import["status"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.Created, (await PostAsync(writer, unit, "left", 1)).StatusCode);
    }

    /// <summary>A staged row of an import that is no longer running, as a failed drop would leave it.</summary>
    private sealed class StageLeftover(string unit) : Tally.Api.Ledger.LedgerCommand<bool>
    {
        protected override bool Run(Tally.Api.Ledger.LedgerContext context)
        {
            Tally.Api.Ledger.StagedEvents.Stage(context, "imp_left", new Tally.Api.Ledger.NewEvent("notices.issued",
                new DateOnly(2024, 3, 1), 1, unit, null, new SortedDictionary<string, string>(StringComparer.Ordinal), "left", null), "sheets");
            return true;
        }
    }

    [Fact]
    public async Task A_dry_run_whose_metric_is_retired_between_its_pieces_reports_what_a_real_run_would_refuse()
    {
        await using var setup = await StartAsync();
        var (app, gate, unit, writer) = setup;
        using var admin = app.Admin();
        var metric = Unique.Code("m");
        Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync("/api/v1/metrics", new { code = metric, name = "临时指标", unit = "次" }, Ct)).StatusCode);
        var csv = "metric,occurredOn,quantity,orgUnit,externalId\n"
            + string.Concat(Enumerable.Range(1, 3).Select(i => $"{metric},2024-03-0{i},{i},{unit},d{i}\n"));
        var id = await StartImportAsync(writer, csv, "name=dry-retired&dryRun=true");
        await gate.Held.WaitAsync(TimeSpan.FromMinutes(2), Ct);

        var retired = await admin.PutAsJsonAsync($"/api/v1/metrics/{metric}", new { name = "临时指标", unit = "次", active = false }, Ct);
        gate.Release();
        Assert.Equal(HttpStatusCode.OK, retired.StatusCode);
        var import = await EndedAsync(writer, id);

        Assert.Equal("failed", import["status"]!.GetValue<string>());
        Assert.Equal(3, import["summary"]!["invalid"]!.GetValue<int>());
        Assert.Contains("a real run would store nothing", import["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        using var db = app.OpenDatabase();
        Assert.Equal(0, db.ExecuteScalar<int>("SELECT count(*) FROM events WHERE metric = @metric", new { metric }));
    }
}
