using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Dapper;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Events;

public sealed class RecordEventBatchTests(TallyApp app)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static JsonObject Item(string orgUnit, string? externalId = null, long quantity = 3, string day = "2024-04-01") => new()
    {
        ["metric"] = "websites.cleaned", ["occurredOn"] = day, ["quantity"] = quantity, ["orgUnit"] = orgUnit,
        ["dimensions"] = new JsonObject { ["category"] = "pornography" }, ["externalId"] = externalId,
        ["note"] = "批量导入",
    };

    private static JsonObject Batch(IEnumerable<JsonObject> items) => new() { ["events"] = new JsonArray([.. items]) };

    private static int CountIn(TallyApp app, string unit)
    {
        using var db = app.OpenDatabase();
        return db.ExecuteScalar<int>("SELECT count(*) FROM events WHERE org_unit = @unit", new { unit });
    }

    [Fact]
    public async Task A_batch_is_stored_whole_with_items_in_input_order_and_one_audit_entry_whose_root_commits_to_every_event()
    {
        var unit = await app.OrgUnitAsync();
        using var client = await app.ClientWithAsync(["events:write", "events:read"]);
        var items = Enumerable.Range(0, 25).Select(i => Item(unit, $"b-{i}", quantity: i + 1)).ToList();

        var response = await client.PostAsJsonAsync("/api/v1/events/batch", Batch(items), Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.ReadJsonAsync();
        Assert.Equal(25, body["created"]!.GetValue<int>());
        Assert.Equal(0, body["unchanged"]!.GetValue<int>());
        var results = body["items"]!.AsArray();
        Assert.Equal(Enumerable.Range(0, 25), results.Select(r => r!["index"]!.GetValue<int>()));
        Assert.All(results, r => Assert.Equal("created", r!["status"]!.GetValue<string>()));
        var ids = results.Select(r => r!["id"]!.GetValue<string>()).ToList();
        Assert.Equal(ids.Order(StringComparer.Ordinal), ids);

        var read = await (await client.GetAsync($"/api/v1/events/{ids[7]}", Ct)).ReadJsonAsync();
        Assert.Equal(8, read["quantity"]!.GetValue<long>());
        Assert.Equal("b-7", read["externalId"]!.GetValue<string>());

        using var db = app.OpenDatabase();
        Assert.Equal(Enumerable.Range(1, 25).Sum(), db.ExecuteScalar<long>(
            "SELECT sum(quantity) FROM events WHERE org_unit = @unit", new { unit }));
        Assert.Equal(Enumerable.Range(1, 25).Sum(), db.ExecuteScalar<long>(
            "SELECT sum(value) FROM daily_rollups WHERE org_unit = @unit", new { unit }));
        // One entry for the batch (CONTRACT.md, Audit): its root commits to the 25 events in id order, each by its leaf.
        var entry = db.QuerySingle<(long Seq, string Action, string Entity, string Data)>(
            "SELECT seq, action, entity, data FROM audit_log WHERE seq = (SELECT DISTINCT audit_seq FROM events WHERE org_unit = @unit)",
            new { unit });
        Assert.Equal(("events.created", "events:" + ids[0]), (entry.Action, entry.Entity));
        Assert.Equal(entry.Seq, read["auditSeq"]!.GetValue<long>());
        var data = JsonNode.Parse(entry.Data)!;
        Assert.Equal(25, data["events"]!.GetValue<long>());
        Assert.Equal(ids[0], data["firstEventId"]!.GetValue<string>());
        Assert.Equal(ids[24], data["lastEventId"]!.GetValue<string>());
        var leaves = new List<byte[]>();
        foreach (var id in ids)
            leaves.Add(Audit.IndependentProof.Leaf(Audit.IndependentProof.LeafJson(
                (await (await client.GetAsync($"/api/v1/events/{id}", Ct)).ReadJsonAsync()).AsObject())));
        Assert.Equal(Convert.ToHexStringLower(Tally.Api.Ledger.MerkleTree.Root(leaves)), data["root"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_batch_whose_last_item_is_invalid_stores_nothing_and_names_the_item()
    {
        var unit = await app.OrgUnitAsync();
        using var client = await app.ClientWithAsync(["events:write"]);
        var items = Enumerable.Range(0, 20).Select(i => Item(unit, $"x-{i}")).ToList();
        items[^1]["quantity"] = 0;

        var response = await client.PostAsJsonAsync("/api/v1/events/batch", Batch(items), Ct);

        var body = await response.AssertValidationAsync("events[19].quantity");
        Assert.Single(body["errors"]!.AsObject());
        Assert.Equal(0, CountIn(app, unit));
    }

    [Fact]
    public async Task Item_errors_are_keyed_by_index_and_camelCase_field()
    {
        var unit = await app.OrgUnitAsync();
        using var client = await app.ClientWithAsync(["events:write"]);
        var items = Enumerable.Range(0, 20).Select(i => Item(unit)).ToList();
        items[3]["dimensions"] = new JsonObject { ["category"] = "fraud" };
        items[17]["quantity"] = -1;
        items[5]["occurredOn"] = "2999-01-01";
        items[8].Remove("orgUnit");
        items[11]["metric"] = "no.such.metric";

        var body = await (await client.PostAsJsonAsync("/api/v1/events/batch", Batch(items), Ct)).AssertValidationAsync();

        var keys = body["errors"]!.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(["events[11].metric", "events[17].quantity", "events[3].dimensions.category", "events[5].occurredOn",
            "events[8].orgUnit"], keys);
        Assert.Equal(0, CountIn(app, unit));
    }

    [Fact]
    public async Task Wrong_json_types_inside_items_are_keyed_by_their_path()
    {
        using var client = await app.ClientWithAsync(["events:write"]);
        var json = """{"events":[{"metric":"websites.cleaned","occurredOn":"2024-01-01","quantity":1,"orgUnit":"hedong"},"""
            + """{"metric":"websites.cleaned","occurredOn":"2024-01-01","quantity":"five","orgUnit":"hedong"}]}""";
        await (await client.PostJsonAsync("/api/v1/events/batch", json)).AssertValidationAsync("events[1].quantity");
        var typo = """{"events":[{"metric":"websites.cleaned","occurredOn":"2024-01-01","quantity":1,"orgUnit":"hedong","qty":2}]}""";
        await (await client.PostJsonAsync("/api/v1/events/batch", typo)).AssertValidationAsync("events[0].qty");
    }

    [Theory]
    [InlineData("""{}""", "events")]
    [InlineData("""{"events":null}""", "events")]
    [InlineData("""{"events":[]}""", "events")]
    [InlineData("""{"events":[null]}""", "events[0]")]
    [InlineData("""{"events":{}}""", "events")]
    public async Task A_missing_or_empty_event_list_is_400(string json, string field)
    {
        using var client = await app.ClientWithAsync(["events:write"]);
        await (await client.PostJsonAsync("/api/v1/events/batch", json)).AssertValidationAsync(field);
    }

    [Fact]
    public async Task More_items_than_the_limit_is_400_and_stores_nothing()
    {
        await using var small = await TallyApp.StartAsync(new Dictionary<string, string?> { ["Tally:Limits:MaxBatchItems"] = "3" });
        using var client = small.Admin();
        var ok = await client.PostAsJsonAsync("/api/v1/events/batch", Batch(Enumerable.Range(0, 3).Select(_ => Item("hedong"))), Ct);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        var tooMany = await client.PostAsJsonAsync("/api/v1/events/batch", Batch(Enumerable.Range(0, 4).Select(_ => Item("hedong"))), Ct);
        var body = await tooMany.AssertValidationAsync("events");
        Assert.Contains("at most 3", body["errors"]!["events"]![0]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(3, CountIn(small, "hedong"));
    }

    [Fact]
    public async Task Items_repeat_like_sequential_posts_inside_a_batch_and_across_batches()
    {
        var unit = await app.OrgUnitAsync();
        using var client = await app.ClientWithAsync(["events:write"]);
        var earlier = await (await client.PostAsJsonAsync("/api/v1/events", Item(unit, "stored-before", 9), Ct)).ReadJsonAsync();

        var response = await client.PostAsJsonAsync("/api/v1/events/batch",
            Batch([Item(unit, "dup", 2), Item(unit, "stored-before", 9), Item(unit, "dup", 2), Item(unit), Item(unit)]), Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.ReadJsonAsync();
        Assert.Equal(3, body["created"]!.GetValue<int>());
        Assert.Equal(2, body["unchanged"]!.GetValue<int>());
        var items = body["items"]!.AsArray();
        Assert.Equal(["created", "unchanged", "unchanged", "created", "created"], items.Select(i => i!["status"]!.GetValue<string>()));
        Assert.Equal(earlier["id"]!.GetValue<string>(), items[1]!["id"]!.GetValue<string>());
        Assert.Equal(items[0]!["id"]!.GetValue<string>(), items[2]!["id"]!.GetValue<string>());
        Assert.Equal(4, CountIn(app, unit));

        var again = await (await client.PostAsJsonAsync("/api/v1/events/batch", Batch([Item(unit, "dup", 2)]), Ct)).ReadJsonAsync();
        Assert.Equal("unchanged", again["items"]![0]!["status"]!.GetValue<string>());
        Assert.Equal(items[0]!["id"]!.GetValue<string>(), again["items"]![0]!["id"]!.GetValue<string>());
        Assert.Equal(4, CountIn(app, unit));
    }

    [Fact]
    public async Task Every_idempotency_conflict_is_named_and_the_batch_stores_nothing()
    {
        var unit = await app.OrgUnitAsync();
        using var client = await app.ClientWithAsync(["events:write"]);
        await client.PostAsJsonAsync("/api/v1/events", Item(unit, "taken", 1), Ct);

        var response = await client.PostAsJsonAsync("/api/v1/events/batch",
            Batch([Item(unit, "fresh", 1), Item(unit, "taken", 2), Item(unit, "inner", 1), Item(unit, "inner", 5), Item(unit, "taken", 1)]), Ct);

        var body = await response.AssertProblemAsync(409, "/problems/idempotency-conflict");
        var keys = body["errors"]!.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(["events[1].externalId", "events[3].externalId"], keys);
        Assert.Equal(1, CountIn(app, unit));
        using var db = app.OpenDatabase();
        Assert.Equal(0, db.ExecuteScalar<int>("SELECT count(*) FROM events WHERE org_unit = @unit AND external_id IN ('fresh', 'inner')", new { unit }));
    }

    [Fact]
    public async Task A_bound_key_cannot_write_any_item_outside_its_unit()
    {
        var unit = await app.OrgUnitAsync();
        var child = await app.OrgUnitAsync(unit);
        var sibling = await app.OrgUnitAsync();
        using var bound = await app.ClientWithAsync(["events:write"], orgUnit: unit);

        var refused = await bound.PostAsJsonAsync("/api/v1/events/batch", Batch([Item(unit), Item(child), Item(sibling)]), Ct);
        var problem = await refused.AssertProblemAsync(403, "/problems/forbidden");
        Assert.Contains("events[2]", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(0, CountIn(app, unit) + CountIn(app, child) + CountIn(app, sibling));

        var ok = await bound.PostAsJsonAsync("/api/v1/events/batch", Batch([Item(unit), Item(child)]), Ct);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [Fact]
    public async Task A_batch_with_an_item_in_a_locked_year_is_409_and_stores_nothing()
    {
        await using var own = await TallyApp.StartAsync(new Dictionary<string, string?>());
        using (var db = own.OpenDatabase())
            db.Execute("INSERT INTO periods (year, locked, locked_at, lock_reason, updated_at) VALUES (2021, 1, '2025-01-01T00:00:00.0000000Z', 'published', '2025-01-01T00:00:00.0000000Z')");
        using var client = own.Admin();

        var response = await client.PostAsJsonAsync("/api/v1/events/batch",
            Batch([Item("hedong", day: "2024-05-05"), Item("hedong", day: "2021-05-05")]), Ct);

        await response.AssertProblemAsync(409, "/problems/period-locked");
        Assert.Equal(0, CountIn(own, "hedong"));
    }

    [Fact]
    public async Task Reading_scope_alone_cannot_post_a_batch()
    {
        using var reader = await app.ClientWithAsync(["events:read"]);
        var response = await reader.PostAsJsonAsync("/api/v1/events/batch", Batch([Item("hedong")]), Ct);
        await response.AssertProblemAsync(403, "/problems/forbidden");
    }
}
