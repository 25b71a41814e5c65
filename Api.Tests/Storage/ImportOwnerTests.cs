using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Tally.Api.Data;
using Tally.Api.Features.Imports;
using Tally.Api.Ledger;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Storage;

/// <summary>
/// Each import is owned by the process that runs it (ProcessLease). An import left queued or running by a process that
/// is gone is failed by the next process that starts (on PostgreSQL by any process, now and then), and what it staged
/// no longer holds its externalIds; an import of a live process is left alone, and on PostgreSQL its held externalIds
/// are held in every process, which share one staging table.
/// </summary>
public sealed class ImportOwnerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string Detail = "The server stopped before this import finished; nothing of it was stored. Start it again.";

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

    private static void InsertImport(System.Data.Common.DbConnection db, string id, string status, long? owner) =>
        db.Execute(
            """
            INSERT INTO imports (id, name, key_id, format, status, dry_run, mode, created_at, owner)
            VALUES (@id, 'left behind', 'key_test', 'csv', @status, 0, 'create', '2026-12-01T00:00:00.000000Z', @owner)
            """, new { id, status, owner });

    private static Task<HttpResponseMessage> PostAsync(HttpClient client, string unit, string externalId) =>
        client.PostAsJsonAsync("/api/v1/events",
            new { metric = "notices.issued", occurredOn = "2024-03-20", quantity = 1, orgUnit = unit, externalId }, Ct);

    [Fact]
    public async Task An_import_of_a_process_that_is_gone_is_failed_at_the_next_start_and_holds_nothing()
    {
        // The first app stays up (it owns the store), as a process whose imports are none of these.
        await using var first = await TallyApp.StartAsync(new Dictionary<string, string?>());
        var connectionString = first.ConnectionString;
        var unit = await first.OrgUnitAsync();
        var ownerOfTheLastRun = Random.Shared.NextInt64(1, long.MaxValue);
        using (var db = first.OpenDatabase())
        {
            InsertImport(db, "imp_running", "running", ownerOfTheLastRun);
            InsertImport(db, "imp_queued", "queued", ownerOfTheLastRun);
            InsertImport(db, "imp_before_owners", "running", owner: null);
            InsertImport(db, "imp_done", "succeeded", ownerOfTheLastRun);
            if (TestStore.OnPostgres)
            {
                // On PostgreSQL the staging table is shared and outlives a process: what the dead import staged is there.
                db.Execute("INSERT INTO import_staged_events (import_id, creates, external_id, source) VALUES ('imp_running', 0, 'left-1', 'sheets')");
            }
        }

        await using var second = await TallyApp.StartAsync(new Dictionary<string, string?> { ["ConnectionStrings:Tally"] = connectionString });
        using var admin = second.Admin();
        foreach (var id in new[] { "imp_running", "imp_queued", "imp_before_owners" })
        {
            var import = await admin.GetJsonAsync($"/api/v1/imports/{id}");
            Assert.Equal("failed", import["status"]!.GetValue<string>());
            Assert.Equal(Detail, import["detail"]!.GetValue<string>());
        }
        Assert.Equal("succeeded", (await admin.GetJsonAsync("/api/v1/imports/imp_done"))["status"]!.GetValue<string>());

        // Nothing it staged holds its externalId any more: a write of it is stored.
        using var writer = await second.ClientWithAsync(["events:write"], source: "sheets");
        Assert.Equal(HttpStatusCode.Created, (await PostAsync(writer, unit, "left-1")).StatusCode);
        if (TestStore.OnPostgres)
        {
            using var db = second.OpenDatabase();
            Assert.Equal(0, db.ExecuteScalar<int>("SELECT count(*) FROM import_staged_events"));
        }
    }

    [Fact]
    public async Task On_postgresql_a_live_process_s_import_holds_its_externalIds_in_every_process_and_is_not_failed_by_another()
    {
        if (!TestStore.OnPostgres)
            Assert.Skip("PostgreSQL only: one SQLite file is served by one process");
        var gate = new HoldAfterFirstPiece();
        await using var first = await TallyApp.StartAsync(new Dictionary<string, string?> { ["Tally:Limits:Imports:PieceRows"] = "2" },
            services => services.AddSingleton<IImportPieceGate>(gate));
        try
        {
            var unit = await first.OrgUnitAsync();
            using var importer = await first.ClientWithAsync(["events:write"], source: "sheets");
            var csv = "metric,occurredOn,quantity,orgUnit,externalId\n"
                + string.Concat(Enumerable.Range(1, 5).Select(i => $"notices.issued,2024-03-0{i},{i},{unit},r{i}\n"));
            using var content = new ByteArrayContent(Encoding.UTF8.GetBytes(csv));
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("text/csv");
            var accepted = await importer.PostAsync("/api/v1/imports", content, Ct);
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
            var id = (await accepted.ReadJsonAsync())["id"]!.GetValue<string>();
            await gate.Held.WaitAsync(TimeSpan.FromMinutes(2), Ct);

            // A second process on the same database, started while the first one's import is between its pieces.
            await using var second = await TallyApp.StartAsync(new Dictionary<string, string?> { ["ConnectionStrings:Tally"] = first.ConnectionString });
            using var writer = await second.ClientWithAsync(["events:write"], source: "sheets");

            // Its start did not fail the live import, and neither does its look for orphans.
            var failed = await second.Services.GetRequiredService<LedgerWriter>()
                .SubmitAsync(new FailInterruptedImportsCommand(second.Services.GetRequiredService<ProcessLease>()), Ct);
            Assert.Equal(0, failed);
            using (var db = second.OpenDatabase())
                Assert.Equal("queued", db.ExecuteScalar<string>("SELECT status FROM imports WHERE id = @id", new { id }));

            // A staged externalId is held in the other process too: told to retry, nothing stored.
            var held = await PostAsync(writer, unit, "r1");
            var problem = await held.AssertProblemAsync(503, "/problems/unavailable");
            Assert.Contains(id, problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.Equal(HttpStatusCode.Created, (await PostAsync(writer, unit, "elsewhere")).StatusCode);

            gate.Release();
            JsonNode import;
            var deadline = DateTime.UtcNow.AddMinutes(2);
            while ((import = await importer.GetJsonAsync($"/api/v1/imports/{id}"))["status"]!.GetValue<string>() is "queued" or "running")
            {
                Assert.True(DateTime.UtcNow < deadline, import.ToJsonString());
                await Task.Delay(20, Ct);
            }
            Assert.Equal("succeeded", import["status"]!.GetValue<string>());
            Assert.Equal(5, import["summary"]!["created"]!.GetValue<int>());

            // Published: the externalId is the import's event now, and the other process answers for it as stored.
            var again = await PostAsync(writer, unit, "r1");
            Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
            using (var db = second.OpenDatabase())
            {
                Assert.Equal(6, db.ExecuteScalar<int>("SELECT count(*) FROM events WHERE org_unit = @unit", new { unit }));
                Assert.Equal(0, db.ExecuteScalar<int>("SELECT count(*) FROM import_staged_events"));
            }
        }
        finally
        {
            gate.Release();
        }
    }
}
