using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Dapper;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Tally.Api.Data;
using Tally.Api.Features.Events;
using Tally.Api.Ledger;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Audit;

/// <summary>
/// Tamper tests on a real database file: each test runs its own server, edits its file behind the server's back
/// (as someone with access to the disk could), and asks GET /audit/verify what it sees.
/// </summary>
public sealed class VerifyAuditTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A server of its own, its events, and an auditor's client made before any tampering.</summary>
    private sealed record Ledger(TallyApp App, List<string> EventIds, HttpClient Auditor) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            Auditor.Dispose();
            await App.DisposeAsync();
        }
    }

    /// <summary>A server with a few events, their audit entries, and a voided and a superseded event.</summary>
    private static async Task<Ledger> StartWithEventsAsync()
    {
        var app = await TallyApp.StartAsync(new Dictionary<string, string?>());
        using var admin = app.Admin();
        var ids = new List<string>();
        for (var i = 1; i <= 4; i++)
        {
            var response = await admin.PostAsJsonAsync("/api/v1/events", new
            {
                metric = "websites.cleaned", occurredOn = $"2024-0{i}-15", quantity = 10 * i, orgUnit = "hedong",
                dimensions = new { category = "gambling" }, externalId = $"case-{i}", note = i == 2 ? "“清朗”专项" : null,
            }, Ct);
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            ids.Add((await response.ReadJsonAsync())["id"]!.GetValue<string>());
        }
        var writer = app.Services.GetRequiredService<LedgerWriter>();
        await writer.SubmitAsync(new VoidCommand(ids[0], "entered twice"), Ct);
        ids.Add(await writer.SubmitAsync(new SupersedeCommand(ids[1], 25), Ct));
        return new Ledger(app, ids, await app.ClientWithAsync(["audit:read"]));
    }

    private static async Task<JsonNode> VerifyAsync(Ledger ledger, string query = "")
    {
        var response = await ledger.Auditor.GetAsync("/api/v1/audit/verify" + query, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.ReadJsonAsync();
    }

    private static async Task<JsonNode> AssertBrokenAsync(Ledger ledger, long? firstInvalidSeq = null, string? eventId = null)
    {
        var result = await VerifyAsync(ledger);
        Assert.False(result["valid"]!.GetValue<bool>(), result.ToJsonString());
        Assert.False(string.IsNullOrEmpty(result["reason"]?.GetValue<string>()));
        if (firstInvalidSeq is not null)
            Assert.Equal(firstInvalidSeq, result["firstInvalidSeq"]?.GetValue<long>());
        if (eventId is not null)
            Assert.Equal(eventId, result["firstInvalidEventId"]?.GetValue<string>());
        return result;
    }

    /// <summary>The entry that records the event's creation (its auditSeq: one events.created entry per write command).</summary>
    private static long CreatedSeq(System.Data.Common.DbConnection db, string eventId) => db.ExecuteScalar<long>(
        "SELECT audit_seq FROM events WHERE id = @eventId", new { eventId });

    [Fact]
    public async Task An_untouched_ledger_verifies_with_its_entry_count_and_head()
    {
        await using var ledger = await StartWithEventsAsync();
        var app = ledger.App;
        var result = await VerifyAsync(ledger);

        using var db = app.OpenDatabase();
        Assert.True(result["valid"]!.GetValue<bool>(), result.ToJsonString());
        Assert.Equal(db.ExecuteScalar<long>("SELECT count(*) FROM audit_log"), result["entries"]!.GetValue<long>());
        var head = db.ExecuteScalar<string>("SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1");
        Assert.Equal(head, result["head"]!.GetValue<string>());
        Assert.Equal(head, app.Services.GetRequiredService<LedgerWriter>().CommittedHead.Hash);
        Assert.Null(result["firstInvalidSeq"]);
        Assert.Null(result["firstInvalidEventId"]);

        Assert.True((await VerifyAsync(ledger, "?knownHead=" + head))["valid"]!.GetValue<bool>());
        Assert.False((await VerifyAsync(ledger, "?knownHead=" + new string('a', 64)))["valid"]!.GetValue<bool>());
        await (await ledger.Auditor.GetAsync("/api/v1/audit/verify?knownHead=xyz", Ct)).AssertValidationAsync("knownHead");
    }

    [Fact]
    public async Task A_root_changed_in_an_entry_is_named_by_seq()
    {
        await using var ledger = await StartWithEventsAsync();
        var (app, ids) = (ledger.App, ledger.EventIds);
        using var db = app.OpenDatabase();
        var seq = CreatedSeq(db, ids[2]);
        // The entry records its event through the root of its leaves: the quantity is in the events row, the root here.
        Assert.Equal(1, db.Execute("UPDATE audit_log SET data = replace(data, '\"root\":\"', '\"root\":\"0') WHERE seq = @seq", new { seq }));

        var result = await AssertBrokenAsync(ledger, firstInvalidSeq: seq);
        Assert.Equal(db.ExecuteScalar<long>("SELECT count(*) FROM audit_log"), result["entries"]!.GetValue<long>());
    }

    [Fact]
    public async Task A_deleted_entry_is_named_by_seq_in_the_middle_and_at_the_end()
    {
        await using var ledger = await StartWithEventsAsync();
        var (app, ids) = (ledger.App, ledger.EventIds);
        using var db = app.OpenDatabase();
        var seq = CreatedSeq(db, ids[3]);
        db.Execute("DELETE FROM audit_log WHERE seq = @seq", new { seq });
        await AssertBrokenAsync(ledger, firstInvalidSeq: seq);

        var last = db.ExecuteScalar<long>("SELECT max(seq) FROM audit_log");
        db.Execute("DELETE FROM audit_log WHERE seq >= @seq", new { seq });
        Assert.True(last > seq);
        // The chain left in the file is whole, but shorter than what this server committed.
        await AssertBrokenAsync(ledger, firstInvalidSeq: seq);
    }

    [Fact]
    public async Task Two_swapped_entries_are_named_by_the_first()
    {
        await using var ledger = await StartWithEventsAsync();
        var (app, ids) = (ledger.App, ledger.EventIds);
        using var db = app.OpenDatabase();
        var a = CreatedSeq(db, ids[1]);
        var b = CreatedSeq(db, ids[2]);
        db.Execute(
            """
            UPDATE audit_log SET seq = -1 WHERE seq = @a;
            UPDATE audit_log SET seq = @a WHERE seq = @b;
            UPDATE audit_log SET seq = @b WHERE seq = -1;
            """, new { a, b });
        await AssertBrokenAsync(ledger, firstInvalidSeq: a);
    }

    [Fact]
    public async Task An_inserted_entry_is_named_whether_the_chain_is_renumbered_or_the_entry_is_appended_with_a_valid_hash()
    {
        await using var ledger = await StartWithEventsAsync();
        var (app, ids) = (ledger.App, ledger.EventIds);
        using var db = app.OpenDatabase();
        var last = db.QuerySingle<(long Seq, string Hash)>("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1");

        // Appended at the end, hashed correctly: the chain holds, but this server never wrote that entry. (On PostgreSQL
        // other processes append to the chain too, so no process can tell such an entry from theirs: there an auditor's
        // knownHead anchors the chain, and this half runs on SQLite only.)
        if (!TestStore.OnPostgres)
        {
            var forged = AuditChain.Seal(last.Seq + 1, "2024-12-31T00:00:00.0000000Z", null, "system", "metric.updated",
                "metric:websites.cleaned", """{"code":"websites.cleaned"}""", last.Hash);
            db.Execute(
                """
                INSERT INTO audit_log (seq, at, actor_key_id, actor_name, action, entity, data, prev_hash, hash)
                VALUES (@Seq, @At, @ActorKeyId, @ActorName, @Action, @Entity, @Data, @PrevHash, @Hash)
                """, forged);
            await AssertBrokenAsync(ledger, firstInvalidSeq: last.Seq + 1);
            db.Execute("DELETE FROM audit_log WHERE seq = @Seq", forged);
            Assert.True((await VerifyAsync(ledger))["valid"]!.GetValue<bool>());
        }

        // Slipped in the middle, later entries renumbered to make room.
        var at = CreatedSeq(db, ids[2]);
        db.Execute(
            """
            UPDATE audit_log SET seq = -seq WHERE seq >= @at;
            UPDATE audit_log SET seq = 1 - seq WHERE seq < 0;
            INSERT INTO audit_log (seq, at, actor_key_id, actor_name, action, entity, data, prev_hash, hash)
            SELECT @at, at, actor_key_id, actor_name, 'metric.updated', 'metric:websites.cleaned', '{}', hash, hash
            FROM audit_log WHERE seq = @at - 1;
            """, new { at });
        await AssertBrokenAsync(ledger, firstInvalidSeq: at);
    }

    [Fact]
    public async Task A_chain_rewritten_with_valid_hashes_no_longer_ends_where_this_server_wrote()
    {
        await using var ledger = await StartWithEventsAsync();
        var (app, ids) = (ledger.App, ledger.EventIds);
        using var db = app.OpenDatabase();
        var from = CreatedSeq(db, ids[3]);
        db.Execute("UPDATE events SET quantity = 41 WHERE id = @id", new { id = ids[3] });
        // The entry's root made to fit the changed row (its one leaf), then the chain resealed from there on.
        var changed = db.QuerySingle<Tally.Api.Ledger.EventRow>($"SELECT {Tally.Api.Ledger.EventRow.Columns} FROM events WHERE id = @id", new { id = ids[3] });
        var root = Convert.ToHexStringLower(MerkleTree.LeafHash(EventLeafJson.Bytes(changed)));
        var entry = db.QuerySingle<string>("SELECT data FROM audit_log WHERE seq = @from", new { from });
        var edited = System.Text.Json.Nodes.JsonNode.Parse(entry)!.AsObject();
        edited["root"] = root;
        Assert.Equal(1, db.Execute("UPDATE audit_log SET data = @data WHERE seq = @from",
            new { data = Tally.Api.Ledger.AuditChain.Canonical(edited), from }));
        db.Execute("UPDATE daily_rollups SET value = value + 1 WHERE day = '2024-04-15'");
        var rows = db.Query<AuditEntry>(
            """
            SELECT seq, at, actor_key_id AS ActorKeyId, actor_name AS ActorName, action, entity, data, prev_hash AS PrevHash, hash
            FROM audit_log WHERE seq >= @from ORDER BY seq
            """, new { from }).ToList();
        var previous = db.ExecuteScalar<string>("SELECT hash FROM audit_log WHERE seq = @s", new { s = from - 1 })!;
        foreach (var row in rows)
        {
            var resealed = AuditChain.Seal(row.Seq, row.At, row.ActorKeyId, row.ActorName, row.Action, row.Entity, row.Data, previous);
            db.Execute("UPDATE audit_log SET prev_hash = @PrevHash, hash = @Hash WHERE seq = @Seq", resealed);
            previous = resealed.Hash;
        }
        var committed = app.Services.GetRequiredService<LedgerWriter>().CommittedHead;
        await AssertBrokenAsync(ledger, firstInvalidSeq: committed.Seq);
    }

    [Fact]
    public async Task An_event_row_edited_without_its_entry_is_named_by_event_id()
    {
        await using var ledger = await StartWithEventsAsync();
        var (app, ids) = (ledger.App, ledger.EventIds);
        using var db = app.OpenDatabase();
        db.Execute("UPDATE events SET quantity = quantity + 1000 WHERE id = @id", new { id = ids[2] });

        // The row is the record of the event: its entry holds the root of its leaf, so the entry is named with the event.
        var result = await AssertBrokenAsync(ledger, firstInvalidSeq: CreatedSeq(db, ids[2]), eventId: ids[2]);
        Assert.Contains("no longer hash to its root", result["reason"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("quantity", result["reason"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(db.ExecuteScalar<string>("SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1"), result["head"]!.GetValue<string>());
    }

    public static TheoryData<string, string> EventRowEdits() => new()
    {
        { "UPDATE events SET metric = 'websites.deregistered', dimensions = '{}' WHERE id = @id", "metric" },
        { "UPDATE events SET occurred_on = '2024-02-16' WHERE id = @id", "occurredOn" },
        { "UPDATE events SET org_unit = 'tianjin' WHERE id = @id", "orgUnit" },
        { "UPDATE events SET dimensions = '{\"category\":\"pornography\"}' WHERE id = @id", "dimensions" },
        { "UPDATE events SET external_id = 'case-x' WHERE id = @id", "externalId" },
        { "UPDATE events SET note = 'changed' WHERE id = @id", "note" },
        { "UPDATE events SET source = 'elsewhere' WHERE id = @id", "source" },
        { "UPDATE events SET recorded_at = '2024-01-01T00:00:00.0000000Z' WHERE id = @id", "recordedAt" },
        { "UPDATE events SET voided_at = NULL, void_reason = NULL WHERE id = @voided", "voidedAt" },
        { "UPDATE events SET void_reason = 'other reason' WHERE id = @voided", "voidReason" },
        { "UPDATE events SET voided_at = '2025-01-01T00:00:00.0000000Z', void_reason = 'hidden' WHERE id = @id", "voidedAt" },
        { "UPDATE events SET superseded_by = @id WHERE id = @superseded", "supersededBy" },
        { "UPDATE events SET supersedes = NULL WHERE id = @successor", "supersedes" },
    };

    [Theory]
    [MemberData(nameof(EventRowEdits))]
    public async Task Every_field_of_an_event_row_is_checked_against_the_trail(string edit, string field)
    {
        await using var ledger = await StartWithEventsAsync();
        var (app, ids) = (ledger.App, ledger.EventIds);
        using var db = app.OpenDatabase();
        TestStore.WithoutForeignKeys(db);
        db.Execute(edit, new { id = ids[2], voided = ids[0], superseded = ids[1], successor = ids[4] });

        var result = await AssertBrokenAsync(ledger);
        Assert.Contains(field, result["reason"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.NotNull(result["firstInvalidEventId"]);
        if (Tally.Api.Ledger.EventLeafJson.Fields.Contains(field) && field != "supersedes")
        {
            // A created field is committed by the leaf hash: the entry whose root no longer holds is named, with its one event.
            Assert.Contains("no longer hash to its root", result["reason"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.Equal(CreatedSeq(db, ids[2]), result["firstInvalidSeq"]!.GetValue<long>());
            Assert.Equal(ids[2], result["firstInvalidEventId"]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task An_event_row_added_or_removed_behind_the_trail_is_named()
    {
        await using var ledger = await StartWithEventsAsync();
        var (app, ids) = (ledger.App, ledger.EventIds);
        using var db = app.OpenDatabase();
        var forged = "evt_" + new string('Z', 26);
        db.Execute(
            """
            INSERT INTO events (id, metric, occurred_on, quantity, org_unit, campaign, dimensions, external_id, note, source, recorded_at)
            SELECT @forged, metric, occurred_on, 999, org_unit, campaign, dimensions, NULL, note, source, recorded_at
            FROM events WHERE id = @id
            """, new { forged, id = ids[3] });
        var added = await AssertBrokenAsync(ledger, eventId: forged);
        Assert.Contains("no event.created", added["reason"]!.GetValue<string>(), StringComparison.Ordinal);
        db.Execute("DELETE FROM events WHERE id = @forged", new { forged });

        db.Execute("DELETE FROM events WHERE id = @id", new { id = ids[3] });
        var removed = await AssertBrokenAsync(ledger, eventId: ids[3]);
        Assert.Contains("gone", removed["reason"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Daily_totals_edited_behind_the_events_are_reported()
    {
        await using var ledger = await StartWithEventsAsync();
        var app = ledger.App;
        using var db = app.OpenDatabase();
        Assert.Equal(1, db.Execute("UPDATE daily_rollups SET value = value * 10 WHERE day = '2024-03-15'"));

        var result = await AssertBrokenAsync(ledger);
        Assert.Contains("2024-03-15", result["reason"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("UPDATE monthly_rollups SET value = value + 1 WHERE month = '2024-03'", "monthly_rollups", "2024-03")]
    [InlineData("UPDATE monthly_rollups SET events = events + 1 WHERE month = '2024-04'", "monthly_rollups", "2024-04")]
    [InlineData("DELETE FROM monthly_rollups WHERE month = '2024-04'", "monthly_rollups", "2024-04")]
    [InlineData("""
        INSERT INTO monthly_rollups (metric, month, org_unit, campaign, dimensions, value, events)
        VALUES ('notices.issued', '2024-05', 'hedong', '', '{}', 7, 1)
        """, "monthly_rollups", "2024-05")]
    [InlineData("UPDATE monthly_unit_rollups SET value = value * 10 WHERE month = '2024-03'", "monthly_unit_rollups", "2024-03")]
    [InlineData("UPDATE monthly_unit_rollups SET events = 99 WHERE month = '2024-04'", "monthly_unit_rollups", "2024-04")]
    [InlineData("DELETE FROM monthly_unit_rollups WHERE month = '2024-03'", "monthly_unit_rollups", "2024-03")]
    [InlineData("""
        INSERT INTO monthly_unit_rollups (metric, month, org_unit, value, events)
        VALUES ('notices.issued', '2024-05', 'hedong', 7, 1)
        """, "monthly_unit_rollups", "2024-05")]
    public async Task Monthly_totals_edited_behind_the_events_are_reported_naming_the_row(string edit, string table, string month)
    {
        await using var ledger = await StartWithEventsAsync();
        Assert.True((await VerifyAsync(ledger))["valid"]!.GetValue<bool>());
        using var db = ledger.App.OpenDatabase();
        Assert.Equal(1, db.Execute(edit));

        var reason = (await AssertBrokenAsync(ledger))["reason"]!.GetValue<string>();
        Assert.Contains(table, reason, StringComparison.Ordinal);
        Assert.Contains(month, reason, StringComparison.Ordinal);
        Assert.Contains("hedong", reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_doctored_monthly_rollup_that_changes_totals_makes_verification_invalid()
    {
        await using var ledger = await StartWithEventsAsync();
        using var reader = await ledger.App.ClientWithAsync(["totals:read"]);
        async Task<long> YearTotalAsync()
        {
            var totals = await reader.GetFromJsonAsync<JsonNode>("/api/v1/totals?year=2024&metric=websites.cleaned", Ct);
            return totals!["rows"]![0]!["value"]!.GetValue<long>();
        }
        var before = await YearTotalAsync();
        using var db = ledger.App.OpenDatabase();
        Assert.Equal(1, db.Execute("UPDATE monthly_unit_rollups SET value = value + 1000 WHERE month = '2024-03'"));
        Assert.Equal(1, db.Execute("UPDATE monthly_rollups SET value = value + 1000 WHERE month = '2024-03'"));

        Assert.Equal(before + 1000, await YearTotalAsync());
        var reason = (await AssertBrokenAsync(ledger))["reason"]!.GetValue<string>();
        Assert.Contains("monthly_rollups row (websites.cleaned, 2024-03, hedong", reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verification_holds_while_writes_go_on()
    {
        await using var ledger = await StartWithEventsAsync();
        var app = ledger.App;
        using var writer = await app.ClientWithAsync(["events:write"]);
        var writes = Task.WhenAll(Enumerable.Range(0, 200).Select(i => writer.PostAsJsonAsync("/api/v1/events", new
        {
            metric = "notices.issued", occurredOn = "2024-07-01", quantity = i + 1, orgUnit = "hedong",
        }, Ct)));
        var verifications = new List<JsonNode>();
        while (!writes.IsCompleted)
            verifications.Add(await VerifyAsync(ledger));
        await writes;
        verifications.Add(await VerifyAsync(ledger));
        Assert.All(verifications, v => Assert.True(v["valid"]!.GetValue<bool>(), v.ToJsonString()));
    }

    /// <summary>What POST /events/{id}/void does (issue 3 builds the endpoint), through the same ledger code.</summary>
    private sealed class VoidCommand(string id, string reason) : LedgerCommand<bool>
    {
        protected override bool Run(LedgerContext context)
        {
            EventLedger.Void(context, Tally.Api.Ledger.EventRow.Find(context.Connection, id, context.Transaction)!, reason, Actor.System);
            return true;
        }
    }

    /// <summary>What an upsert with new content does: a successor event, and the old one voided as superseded by it.</summary>
    private sealed class SupersedeCommand(string id, long quantity) : LedgerCommand<string>
    {
        protected override string Run(LedgerContext context)
        {
            var old = Tally.Api.Ledger.EventRow.Find(context.Connection, id, context.Transaction)!;
            return EventLedger.Supersede(context, old, old.WithQuantity(quantity), new Recorder(Actor.System, old.Source)).Id;
        }
    }
}
