using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Dapper;
using Microsoft.Data.Sqlite;
using Tally.Api.Data;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Keys;

/// <summary>A source belongs to one place in the tree, and a bound admin creates keys only inside its own subtree.</summary>
public sealed class SourcePlaceTests(TallyApp app)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static object Figure(string orgUnit, long quantity, string? externalId = null) => new
    {
        metric = "reports.tianjin", occurredOn = "2024-03-05", quantity, orgUnit, externalId,
    };

    private static object NewKey(string source, string? orgUnit, params string[] scopes) => new
    {
        name = "key for " + source, source, scopes = scopes.Length == 0 ? ["events:write"] : scopes, orgUnit,
    };

    private async Task<int> CountAsync(string sql, object? args = null)
    {
        await using var db = app.OpenDatabase();
        return await db.ExecuteScalarAsync<int>(sql, args);
    }

    [Fact]
    public async Task A_bound_admin_cannot_take_another_units_source_and_that_units_own_key_then_records_with_201()
    {
        var hedong = await app.OrgUnitAsync(parent: "tianjin");
        var hexi = await app.OrgUnitAsync(parent: "tianjin");
        var hexiSource = Unique.Code("hexi-reports");
        var hexiKey = await app.KeyAsync(["events:write"], orgUnit: hexi, source: hexiSource);
        using var hedongAdmin = await app.ClientWithAsync(["admin"], orgUnit: hedong);
        // Counted for the source at stake: other tests write keys and audit entries to the shared app at the same time.
        const string SourceKeys = "SELECT count(*) FROM api_keys WHERE source = @hexiSource";
        const string SourceAudit = "SELECT count(*) FROM audit_log WHERE data LIKE '%' || @hexiSource || '%'";
        var keysBefore = await CountAsync(SourceKeys, new { hexiSource });
        var auditBefore = await CountAsync(SourceAudit, new { hexiSource });

        var squat = await hedongAdmin.PostAsJsonAsync("/api/v1/api-keys", NewKey(hexiSource, hedong), Ct);
        var problem = await squat.AssertProblemAsync(403, "/problems/forbidden");
        Assert.Contains(hexi, problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        await (await hedongAdmin.PostAsJsonAsync("/api/v1/api-keys", NewKey(hexiSource, null), Ct))
            .AssertProblemAsync(403, "/problems/forbidden");
        Assert.Equal(keysBefore, await CountAsync(SourceKeys, new { hexiSource }));
        Assert.Equal(auditBefore, await CountAsync(SourceAudit, new { hexiSource }));
        Assert.Equal(0, await CountAsync("SELECT count(*) FROM api_keys WHERE source = @hexiSource AND org_unit IS DISTINCT FROM @hexi",
            new { hexiSource, hexi }));

        using var hexiClient = app.Client(hexiKey);
        var figure = await hexiClient.PostAsJsonAsync("/api/v1/events", Figure(hexi, 42, "2024-03-05-daily"), Ct);
        Assert.Equal(HttpStatusCode.Created, figure.StatusCode);
        Assert.Equal(42, await CountAsync("SELECT sum(quantity) FROM events WHERE source = @hexiSource", new { hexiSource }));
    }

    [Fact]
    public async Task A_source_first_named_by_a_bound_key_stays_in_that_unit_for_an_unbound_admin_too()
    {
        var hedong = await app.OrgUnitAsync(parent: "tianjin");
        var hexi = await app.OrgUnitAsync(parent: "tianjin");
        var source = Unique.Code("placed");
        await app.KeyAsync(["events:write"], orgUnit: hexi, source: source);
        using var admin = app.Admin();

        var problem = await (await admin.PostAsJsonAsync("/api/v1/api-keys", NewKey(source, hedong), Ct)).AssertValidationAsync("source");
        Assert.Contains(hexi, problem["errors"]!["source"]![0]!.GetValue<string>(), StringComparison.Ordinal);
        await (await admin.PostAsJsonAsync("/api/v1/api-keys", NewKey(source, null), Ct)).AssertValidationAsync("source");
        await (await admin.PostAsJsonAsync("/api/v1/api-keys", NewKey(source, "tianjin"), Ct)).AssertValidationAsync("source");
        Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync("/api/v1/api-keys", NewKey(source, hexi), Ct)).StatusCode);
        Assert.Equal(2, await CountAsync("SELECT count(*) FROM api_keys WHERE source = @source", new { source }));
        using var db = app.OpenDatabase();
        Assert.Equal(hexi, db.ExecuteScalar<string>("SELECT org_unit FROM sources WHERE source = @source", new { source }));
    }

    [Fact]
    public async Task A_source_first_named_by_an_unbound_key_may_be_used_anywhere()
    {
        var unit = await app.OrgUnitAsync(parent: "tianjin");
        var source = Unique.Code("everywhere");
        await app.KeyAsync(["events:write"], source: source);
        await app.KeyAsync(["events:write"], orgUnit: unit, source: source);
        await app.KeyAsync(["events:read"], orgUnit: "hedong", source: source);
        Assert.Equal(3, await CountAsync("SELECT count(*) FROM api_keys WHERE source = @source", new { source }));
    }

    [Fact]
    public async Task A_bound_admin_cannot_create_an_unbound_key_or_one_for_a_sibling_unit()
    {
        var mine = await app.OrgUnitAsync(parent: "tianjin");
        var sibling = await app.OrgUnitAsync(parent: "tianjin");
        var child = await app.OrgUnitAsync(parent: mine);
        using var boundAdmin = await app.ClientWithAsync(["admin"], orgUnit: mine);
        // Each key asked for has a source of its own: what was stored is counted by them, not over a table other tests write.
        string[] refused = [Unique.Code("wide"), Unique.Code("over"), Unique.Code("up")];
        string[] allowed = [Unique.Code("own"), Unique.Code("below")];
        var Stored = $"SELECT count(*) FROM api_keys WHERE {TestStore.InList("source", "sources")}";

        var unbound = await boundAdmin.PostAsJsonAsync("/api/v1/api-keys", NewKey(refused[0], null, "admin"), Ct);
        Assert.Contains(mine, (await unbound.AssertProblemAsync(403, "/problems/forbidden"))["detail"]!.GetValue<string>(),
            StringComparison.Ordinal);
        var toSibling = await boundAdmin.PostAsJsonAsync("/api/v1/api-keys", NewKey(refused[1], sibling), Ct);
        Assert.Contains(sibling, (await toSibling.AssertProblemAsync(403, "/problems/forbidden"))["detail"]!.GetValue<string>(),
            StringComparison.Ordinal);
        await (await boundAdmin.PostAsJsonAsync("/api/v1/api-keys", NewKey(refused[2], "tianjin"), Ct))
            .AssertProblemAsync(403, "/problems/forbidden");
        Assert.Equal(0, await CountAsync(Stored, new { sources = refused.Concat(allowed).ToArray() }));

        var own = await boundAdmin.PostAsJsonAsync("/api/v1/api-keys", NewKey(allowed[0], mine), Ct);
        Assert.Equal(HttpStatusCode.Created, own.StatusCode);
        Assert.Equal(mine, (await own.ReadJsonAsync())["orgUnit"]!.GetValue<string>());
        var below = await boundAdmin.PostAsJsonAsync("/api/v1/api-keys", NewKey(allowed[1], child), Ct);
        Assert.Equal(HttpStatusCode.Created, below.StatusCode);
        Assert.Equal(2, await CountAsync(Stored, new { sources = refused.Concat(allowed).ToArray() }));
    }

    [Fact]
    public async Task A_child_units_key_may_use_its_parents_source_and_records_with_it()
    {
        var parent = await app.OrgUnitAsync(parent: "tianjin");
        var child = await app.OrgUnitAsync(parent: parent);
        var source = Unique.Code("district-platform");
        await app.KeyAsync(["events:write"], orgUnit: parent, source: source);
        using var parentAdmin = await app.ClientWithAsync(["admin"], orgUnit: parent);

        var created = await parentAdmin.PostAsJsonAsync("/api/v1/api-keys", NewKey(source, child), Ct);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var body = await created.ReadJsonAsync();
        Assert.Equal(source, body["source"]!.GetValue<string>());
        using var childClient = app.Client(body["key"]!.GetValue<string>());
        var figure = await childClient.PostAsJsonAsync("/api/v1/events", Figure(child, 7, Unique.Code("street")), Ct);
        Assert.Equal(HttpStatusCode.Created, figure.StatusCode);
        Assert.Equal(source, (await figure.ReadJsonAsync())["source"]!.GetValue<string>());
    }

    [Fact]
    public async Task An_idempotency_conflict_with_an_event_outside_the_keys_reach_names_neither_its_id_nor_its_unit()
    {
        var parent = await app.OrgUnitAsync(parent: "tianjin");
        var mine = await app.OrgUnitAsync(parent: parent);
        var other = await app.OrgUnitAsync(parent: parent);
        var source = Unique.Code("shared");
        using var parentClient = await app.ClientWithAsync(["events:write"], orgUnit: parent, source: source);
        var externalId = Unique.Code("ext");
        var hiddenId = await parentClient.RecordAsync("reports.tianjin", "2024-03-05", 10, other, externalId: externalId);
        using var bound = await app.ClientWithAsync(["events:write"], orgUnit: mine, source: source);
        using var importer = await app.ClientWithAsync(["events:write"], orgUnit: mine, source: source);
        // Counted for this test's own source: other tests write to the shared app at the same time.
        const string OwnEvents = "SELECT count(*) FROM events WHERE source = @source";
        // Entries naming the source (its keys) and the entries that created its events (an events.created entry holds a root).
        const string OwnAudit = """
            SELECT count(*) FROM audit_log
            WHERE data LIKE '%' || @source || '%' OR seq IN (SELECT audit_seq FROM events WHERE source = @source)
            """;
        var eventsBefore = await CountAsync(OwnEvents, new { source });
        var auditBefore = await CountAsync(OwnAudit, new { source });

        var single = await bound.PostAsJsonAsync("/api/v1/events", Figure(mine, 11, externalId), Ct);
        await AssertRevealsNothingAsync(single, 409, "/problems/idempotency-conflict", hiddenId, other);
        var batch = await bound.PostAsJsonAsync("/api/v1/events/batch", new { events = new[] { Figure(mine, 11, externalId) } }, Ct);
        var batchBody = await AssertRevealsNothingAsync(batch, 409, "/problems/idempotency-conflict", hiddenId, other);
        Assert.NotNull(batchBody["errors"]!["events[0].externalId"]);
        var upsert = await bound.PutAsJsonAsync("/api/v1/events/external/" + externalId,
            new { metric = "reports.tianjin", occurredOn = "2024-03-05", quantity = 12, orgUnit = mine }, Ct);
        await AssertRevealsNothingAsync(upsert, 403, "/problems/forbidden", hiddenId, other);

        var imported = await ImportAsync(importer, $"metric,occurredOn,quantity,orgUnit,externalId\nreports.tianjin,2024-03-05,13,{mine},{externalId}\n");
        Assert.Equal("failed", imported["status"]!.GetValue<string>());
        Assert.Equal(1, imported["summary"]!["conflicts"]!.GetValue<int>());
        Assert.DoesNotContain(hiddenId, imported.ToJsonString(), StringComparison.Ordinal);
        Assert.DoesNotContain(other, imported.ToJsonString(), StringComparison.Ordinal);

        Assert.Equal(eventsBefore, await CountAsync(OwnEvents, new { source }));
        Assert.Equal(auditBefore, await CountAsync(OwnAudit, new { source }));

        // The key that can see the original is still told which event it is.
        var own = await parentClient.PostAsJsonAsync("/api/v1/events", Figure(other, 11, externalId), Ct);
        var ownBody = await own.AssertProblemAsync(409, "/problems/idempotency-conflict");
        Assert.Contains(hiddenId, ownBody["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    private static async Task<JsonNode> ImportAsync(HttpClient client, string csv)
    {
        var response = await client.PostAsync("/api/v1/imports?name=" + Unique.Code("imp"),
            new StringContent(csv, System.Text.Encoding.UTF8, "text/csv"), Ct);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var location = response.Headers.Location!.OriginalString;
        while (true)
        {
            var import = await client.GetJsonAsync(location);
            if (import["status"]!.GetValue<string>() is "succeeded" or "failed")
                return import;
            await Task.Delay(20, Ct);
        }
    }

    private static async Task<JsonNode> AssertRevealsNothingAsync(HttpResponseMessage response, int status, string type,
        string hiddenId, string hiddenUnit)
    {
        var body = await response.AssertProblemAsync(status, type);
        var text = body.ToJsonString();
        Assert.DoesNotContain(hiddenId, text, StringComparison.Ordinal);
        Assert.DoesNotContain(hiddenUnit, text, StringComparison.Ordinal);
        return body;
    }

    [Fact]
    public void The_migration_places_each_existing_source_where_its_earliest_key_is()
    {
        var path = Path.Combine(app.Folder, Unique.Code("migration") + ".db");
        using var db = new SqliteConnection($"Data Source={path}");
        db.Open();
        var scripts = Migrator.ScriptNames;
        var sourcesScript = scripts.Single(n => n.EndsWith("_sources.sql", StringComparison.Ordinal));
        foreach (var name in scripts.TakeWhile(n => n != sourcesScript))
            db.Execute(Script(name));
        db.Execute(
            """
            INSERT INTO api_keys (id, name, source, scopes, org_unit, key_hash, created_at) VALUES
              ('key_03', 'late squatter', 'hexi-reports', 'events:write', 'hedong', x'03', '2025-02-01T00:00:00.0000000Z'),
              ('key_01', 'hexi platform', 'hexi-reports', 'events:write', 'tianjin', x'01', '2025-01-01T00:00:00.0000000Z'),
              ('key_02', 'wide system', 'case-system', 'events:write', NULL, x'02', '2025-01-05T00:00:00.0000000Z'),
              ('key_04', 'bound later', 'case-system', 'events:write', 'hedong', x'04', '2025-01-06T00:00:00.0000000Z')
            """);
        db.Execute(Script(sourcesScript));

        var places = db.Query<(string Source, string? OrgUnit, string PlacedBy)>(
            "SELECT source, org_unit, placed_by FROM sources ORDER BY source").ToList();
        Assert.Equal([("case-system", null, "key_02"), ("hexi-reports", "tianjin", "key_01")], places);
    }

    private static string Script(string name)
    {
        using var stream = typeof(Migrator).Assembly.GetManifestResourceStream("migrations." + name)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
