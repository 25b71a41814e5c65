using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Dapper;
using Microsoft.Data.Sqlite;
using Tally.Api.Data;
using Tally.Api.Ledger;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Audit;

/// <summary>
/// A database from before the Merkle form upgrades in place at start and verifies whole. The old database is made the
/// way the code before it made one: a server creates the schema, then the test takes the schema back to before migration
/// 0070 (no audit_seq, no audit_chunks, 0070 not recorded) and writes events the old way, each with its own
/// event.created entry holding the whole event (and a void and a supersede with their own entries), hash-chained
/// after the entries already there, with rollups to match.
/// </summary>
public sealed class UpgradeTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string Source = "report-platform";

    private static string Id(int n) => "evt_01H5" + n.ToString("D22", System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public async Task A_database_of_per_event_entries_upgrades_at_start_verifies_and_goes_on_in_the_merkle_form()
    {
        var folder = Path.Combine(Path.GetTempPath(), "tally-tests", "upgrade-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        var settings = new Dictionary<string, string?> { ["ConnectionStrings:Tally"] = $"Data Source={Path.Combine(folder, "tally.db")}" };
        try
        {
            await using (var _ = await TallyApp.StartAsync(settings))
            {
            }
            SqliteConnection.ClearAllPools();
            WriteTheOldForm(Path.Combine(folder, "tally.db"));

            await using var app = await TallyApp.StartAsync(settings);
            using var admin = app.Admin();
            var verify = await admin.GetJsonAsync("/api/v1/audit/verify");
            Assert.True(verify["valid"]!.GetValue<bool>(), verify.ToJsonString());

            using (var db = app.OpenDatabase())
            {
                // Migration 0070 gave every old event the seq of its own event.created entry.
                var named = db.Query<(string Id, long AuditSeq, long Seq)>(
                    "SELECT e.id, e.audit_seq, a.seq FROM events e JOIN audit_log a ON a.entity = 'event:' || e.id AND a.action = 'event.created'").ToList();
                Assert.Equal(4, named.Count);
                Assert.All(named, n => Assert.Equal(n.Seq, n.AuditSeq));
            }

            // An old event's proof: a tree of one, whose entry's data is the event itself.
            var proof = await admin.GetJsonAsync($"/api/v1/events/{Id(1)}/proof");
            Assert.Equal(0, proof["index"]!.GetValue<long>());
            Assert.Equal(1, proof["size"]!.GetValue<long>());
            Assert.Empty(proof["path"]!.AsArray());
            Assert.Equal("event.created", proof["entry"]!["action"]!.GetValue<string>());
            var leafJson = IndependentProof.LeafJson(proof["event"]!.AsObject());
            Assert.Equal(IndependentProof.Hex(IndependentProof.Leaf(leafJson)), proof["leafHash"]!.GetValue<string>());
            foreach (var field in IndependentProof.LeafFields)
                Assert.True(JsonNode.DeepEquals(proof["event"]![field], proof["entry"]!["data"]![field]), field);
            Assert.Contains("河东区", leafJson, StringComparison.Ordinal);

            // New writes take the new form beside the old: a POST, a batch, and an upsert superseding an old event.
            using var writer = await app.ClientWithAsync(["events:write", "events:read"], source: Source);
            var posted = await writer.RecordAsync("notices.issued", "2024-07-01", 3, "hedong");
            var batch = await writer.PostAsJsonAsync("/api/v1/events/batch", new
            {
                events = Enumerable.Range(1, 5).Select(i => new { metric = "notices.issued", occurredOn = "2024-07-02", quantity = i, orgUnit = "hedong" }),
            }, Ct);
            Assert.Equal(HttpStatusCode.OK, batch.StatusCode);
            var upsert = await writer.PutAsJsonAsync("/api/v1/events/external/case-1", new
            {
                metric = "websites.cleaned", occurredOn = "2024-06-01", quantity = 11, orgUnit = "hedong",
                dimensions = new { category = "gambling" }, note = "河东区清理涉赌网站",
            }, Ct);
            var upserted = await upsert.ReadJsonAsync();
            Assert.Equal("superseded", upserted["status"]!.GetValue<string>());

            verify = await admin.GetJsonAsync("/api/v1/audit/verify");
            Assert.True(verify["valid"]!.GetValue<bool>(), verify.ToJsonString());
            foreach (var id in new[] { posted, upserted["event"]!["id"]!.GetValue<string>() })
                Assert.Null(IndependentProof.Check(await admin.GetJsonAsync($"/api/v1/events/{id}/proof")));
            var old = await admin.GetJsonAsync($"/api/v1/events/{Id(1)}");
            Assert.Equal("voided", old["status"]!.GetValue<string>());
            Assert.Equal(upserted["event"]!["id"]!.GetValue<string>(), old["supersededBy"]!.GetValue<string>());
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task A_database_of_text_keyed_events_upgrades_to_the_lean_ledger_keeping_every_id_and_its_order()
    {
        var folder = Path.Combine(Path.GetTempPath(), "tally-tests", "upgrade-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, "tally.db");
        var settings = new Dictionary<string, string?> { ["ConnectionStrings:Tally"] = $"Data Source={path}" };
        try
        {
            List<string> ids;
            await using (var before = await TallyApp.StartAsync(settings))
            {
                using var writer = await before.ClientWithAsync(["events:write"], source: Source);
                ids = [await writer.RecordAsync("notices.issued", "2024-07-01", 3, "hedong", externalId: "one")];
                var batch = await writer.PostAsJsonAsync("/api/v1/events/batch", new
                {
                    events = Enumerable.Range(1, 6).Select(i => new { metric = "notices.issued", occurredOn = "2024-07-02", quantity = i, orgUnit = "hedong" }),
                }, Ct);
                ids.AddRange((await batch.ReadJsonAsync())["items"]!.AsArray().Select(r => r!["id"]!.GetValue<string>()));
                var upsert = await writer.PutAsJsonAsync("/api/v1/events/external/one", new
                {
                    metric = "notices.issued", occurredOn = "2024-07-01", quantity = 4, orgUnit = "hedong",
                }, Ct);
                ids.Add((await upsert.ReadJsonAsync())["event"]!["id"]!.GetValue<string>());
            }
            SqliteConnection.ClearAllPools();
            WriteTheTextKeyedForm(path);

            await using var app = await TallyApp.StartAsync(settings);
            using var admin = app.Admin();
            var verify = await admin.GetJsonAsync("/api/v1/audit/verify");
            Assert.True(verify["valid"]!.GetValue<bool>(), verify.ToJsonString());
            using (var db = app.OpenDatabase())
            {
                // Numbered by id, whatever order the old rows were stored in.
                Assert.Equal(ids, db.Query<string>("SELECT id FROM events ORDER BY seq").ToList());
                Assert.Equal("seq", db.ExecuteScalar<string>("SELECT name FROM pragma_table_info('events') WHERE pk = 1"));
            }
            var listed = await admin.GetJsonAsync("/api/v1/events?orgUnit=hedong&status=all&limit=1000");
            Assert.Equal(ids, listed["items"]!.AsArray().Select(e => e!["id"]!.GetValue<string>()).ToList());
            var superseded = await admin.GetJsonAsync($"/api/v1/events/{ids[0]}");
            Assert.Equal(ids[^1], superseded["supersededBy"]!.GetValue<string>());
            Assert.Null(IndependentProof.Check(await admin.GetJsonAsync($"/api/v1/events/{ids[3]}/proof")));

            // New events go on after the old ones, in id order.
            using var writerAfter = await app.ClientWithAsync(["events:write"], source: Source);
            var next = await writerAfter.RecordAsync("notices.issued", "2024-07-03", 1, "hedong");
            Assert.True(string.CompareOrdinal(next, ids.Max(StringComparer.Ordinal)) > 0);
            using (var db = app.OpenDatabase())
                Assert.Equal(next, db.ExecuteScalar<string>("SELECT id FROM events ORDER BY seq DESC LIMIT 1"));
            verify = await admin.GetJsonAsync("/api/v1/audit/verify");
            Assert.True(verify["valid"]!.GetValue<bool>(), verify.ToJsonString());
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// The events table as it was before 0110 (a text primary key and its eleven indexes), holding the same rows stored
    /// newest first, so their rowids run against id order; 0110 not recorded.
    /// </summary>
    private static void WriteTheTextKeyedForm(string path)
    {
        using var db = new SqliteConnection($"Data Source={path}");
        db.Open();
        db.Execute(
            """
            PRAGMA foreign_keys = OFF;
            CREATE TABLE events_old (
                id TEXT PRIMARY KEY, metric TEXT NOT NULL REFERENCES metrics(code), occurred_on TEXT NOT NULL,
                quantity INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 1000000000), org_unit TEXT NOT NULL REFERENCES org_units(code),
                campaign TEXT NULL REFERENCES campaigns(code), dimensions TEXT NOT NULL DEFAULT '{}', external_id TEXT NULL,
                note TEXT NULL, source TEXT NOT NULL, key_id TEXT NOT NULL, recorded_at TEXT NOT NULL, voided_at TEXT NULL,
                void_reason TEXT NULL, supersedes TEXT NULL REFERENCES events(id), superseded_by TEXT NULL REFERENCES events(id),
                audit_seq INTEGER NULL);
            INSERT INTO events_old SELECT id, metric, occurred_on, quantity, org_unit, campaign, dimensions, external_id, note,
                source, '', recorded_at, voided_at, void_reason, supersedes, superseded_by, audit_seq FROM events ORDER BY id DESC;
            DROP TABLE events;
            ALTER TABLE events_old RENAME TO events;
            CREATE UNIQUE INDEX ux_events_source_external_head ON events(source, external_id) WHERE external_id IS NOT NULL AND superseded_by IS NULL;
            CREATE INDEX ix_events_metric_day ON events(metric, occurred_on);
            CREATE INDEX ix_events_org_unit ON events(org_unit, occurred_on);
            CREATE INDEX ix_events_recorded_at ON events(recorded_at);
            CREATE INDEX ix_events_org_unit_id ON events(org_unit, id);
            CREATE INDEX ix_events_metric_id ON events(metric, id);
            CREATE INDEX ix_events_source_id ON events(source, id);
            CREATE INDEX ix_events_campaign_id ON events(campaign, id) WHERE campaign IS NOT NULL;
            CREATE INDEX ix_events_day_id ON events(occurred_on, id);
            DELETE FROM schemaversions WHERE scriptname LIKE '%0110_lean_events.sql';
            """);
    }

    /// <summary>The schema before 0070, and events recorded as the code before the Merkle form recorded them.</summary>
    private static void WriteTheOldForm(string path)
    {
        using var db = new SqliteConnection($"Data Source={path}");
        db.Open();
        db.Execute(
            """
            DROP TABLE audit_chunks;
            ALTER TABLE events DROP COLUMN audit_seq;
            DELETE FROM schemaversions WHERE scriptname LIKE '%0070_audit_merkle.sql';
            """);
        var (seq, previous) = db.QuerySingle<(long, string)>("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1");
        void Append(string at, string action, string entity, JsonObject data)
        {
            var entry = AuditChain.Seal(++seq, at, null, "system", action, entity, AuditChain.Canonical(data), previous);
            db.Execute(
                """
                INSERT INTO audit_log (seq, at, actor_key_id, actor_name, action, entity, data, prev_hash, hash)
                VALUES (@Seq, @At, @ActorKeyId, @ActorName, @Action, @Entity, @Data, @PrevHash, @Hash)
                """, entry);
            previous = entry.Hash;
        }
        void Record(int n, string metric, string day, long quantity, string dimensions, string? externalId, string? note, string? supersedes)
        {
            var at = $"2024-06-0{n}T08:00:00.1200000Z";
            db.Execute(
                """
                INSERT INTO events (id, metric, occurred_on, quantity, org_unit, campaign, dimensions, external_id, note, source,
                                    recorded_at, supersedes)
                VALUES (@id, @metric, @day, @quantity, 'hedong', NULL, @dimensions, @externalId, @note, @Source, @at, @supersedes)
                """, new { id = Id(n), metric, day, quantity, dimensions, externalId, note, Source, at, supersedes });
            // The old entry: the event as the API showed it then, canonical JSON (keys sorted, default escaping).
            Append(at, "event.created", "event:" + Id(n), new JsonObject
            {
                ["id"] = Id(n), ["metric"] = metric, ["occurredOn"] = day, ["quantity"] = quantity, ["orgUnit"] = "hedong",
                ["campaign"] = null, ["dimensions"] = JsonNode.Parse(dimensions), ["externalId"] = externalId, ["note"] = note,
                ["source"] = Source, ["recordedAt"] = EventFieldList.ApiInstant(at), ["status"] = "active", ["voidedAt"] = null,
                ["voidReason"] = null, ["supersedes"] = supersedes, ["supersededBy"] = null,
            });
        }
        void Void(int n, string reason, string? supersededBy, int when)
        {
            var at = $"2024-06-0{when}T09:00:00.0000000Z";
            db.Execute("UPDATE events SET voided_at = @at, void_reason = @reason, superseded_by = @supersededBy WHERE id = @id",
                new { at, reason, supersededBy, id = Id(n) });
            Append(at, supersededBy is null ? "event.voided" : "event.superseded", "event:" + Id(n),
                new JsonObject { ["id"] = Id(n), ["reason"] = reason, ["supersededBy"] = supersededBy, ["voidedAt"] = at });
        }
        db.Execute("PRAGMA foreign_keys = OFF");
        Record(1, "websites.cleaned", "2024-06-01", 10, """{"category":"gambling"}""", "case-1", "河东区清理涉赌网站", null);
        Record(2, "notices.issued", "2024-06-02", 2, "{}", null, "“清朗”专项 \"quoted\"", null);
        Void(2, "重复填报", null, 3);
        Record(3, "notices.issued", "2024-06-03", 5, "{}", "case-3", null, null);
        // The old supersede: the old event voided with its own event.superseded entry, the new one with its event.created.
        Void(3, "superseded", Id(4), 4);
        Record(4, "notices.issued", "2024-06-03", 6, "{}", "case-3", null, Id(3));
        db.Execute(
            """
            DELETE FROM daily_rollups; DELETE FROM monthly_rollups; DELETE FROM monthly_unit_rollups;
            INSERT INTO daily_rollups (metric, day, org_unit, campaign, dimensions, value, events)
            SELECT metric, occurred_on, org_unit, coalesce(campaign, ''), dimensions, sum(quantity), count(*)
            FROM events WHERE voided_at IS NULL GROUP BY metric, occurred_on, org_unit, coalesce(campaign, ''), dimensions;
            INSERT INTO monthly_rollups (metric, month, org_unit, campaign, dimensions, value, events)
            SELECT metric, substr(day, 1, 7), org_unit, campaign, dimensions, sum(value), sum(events)
            FROM daily_rollups GROUP BY metric, substr(day, 1, 7), org_unit, campaign, dimensions;
            INSERT INTO monthly_unit_rollups (metric, month, org_unit, value, events)
            SELECT metric, month, org_unit, sum(value), sum(events) FROM monthly_rollups GROUP BY metric, month, org_unit;
            """);
    }
}
