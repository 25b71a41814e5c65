using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Dapper;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Events;

public sealed class VoidEventTests(TallyApp app)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<string> RecordAsync(HttpClient client, string orgUnit, long quantity = 4, string day = "2024-09-09")
    {
        var response = await client.PostAsJsonAsync("/api/v1/events", new
        {
            metric = "notices.issued", occurredOn = day, quantity, orgUnit,
        }, Ct);
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync(Ct));
        return (await response.ReadJsonAsync())["id"]!.GetValue<string>();
    }

    [Fact]
    public async Task Void_returns_the_voided_event_keeps_it_readable_and_takes_it_out_of_the_rollups()
    {
        var unit = await app.OrgUnitAsync();
        using var client = await app.ClientWithAsync(["events:write", "events:read"]);
        var kept = await RecordAsync(client, unit, 3);
        var id = await RecordAsync(client, unit, 4);

        var response = await client.PostAsJsonAsync($"/api/v1/events/{id}/void", new { reason = "重复填报" }, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.ReadJsonAsync();
        Assert.Equal(id, body["id"]!.GetValue<string>());
        Assert.Equal("voided", body["status"]!.GetValue<string>());
        Assert.Equal("重复填报", body["voidReason"]!.GetValue<string>());
        Assert.EndsWith("Z", body["voidedAt"]!.GetValue<string>());
        Assert.Null(body["supersededBy"]);

        var read = await (await client.GetAsync($"/api/v1/events/{id}", Ct)).ReadJsonAsync();
        Assert.True(JsonNode.DeepEquals(body, read));

        using var db = app.OpenDatabase();
        Assert.Equal(3, db.ExecuteScalar<long>("SELECT sum(value) FROM daily_rollups WHERE org_unit = @unit", new { unit }));
        Assert.Equal(1, db.ExecuteScalar<long>("SELECT sum(events) FROM daily_rollups WHERE org_unit = @unit", new { unit }));
        var audit = db.QuerySingle<string>("SELECT data FROM audit_log WHERE action = 'event.voided' AND entity = @e", new { e = "event:" + id });
        Assert.Equal("重复填报", JsonNode.Parse(audit)!["reason"]!.GetValue<string>());
        Assert.NotNull(kept);
    }

    [Fact]
    public async Task Voiding_twice_is_409_already_voided()
    {
        using var client = await app.ClientWithAsync(["events:write"]);
        var id = await RecordAsync(client, await app.OrgUnitAsync());
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync($"/api/v1/events/{id}/void", new { reason = "first" }, Ct)).StatusCode);

        var again = await client.PostAsJsonAsync($"/api/v1/events/{id}/void", new { reason = "second" }, Ct);

        await again.AssertProblemAsync(409, "/problems/already-voided");
        using var db = app.OpenDatabase();
        Assert.Equal("first", db.ExecuteScalar<string>("SELECT void_reason FROM events WHERE id = @id", new { id }));
        Assert.Equal(1, db.ExecuteScalar<int>("SELECT count(*) FROM audit_log WHERE entity = @e AND action = 'event.voided'", new { e = "event:" + id }));
    }

    [Theory]
    [InlineData("""{}""")]
    [InlineData("""{"reason":""}""")]
    [InlineData("""{"reason":"   "}""")]
    [InlineData("""{"reason":null}""")]
    [InlineData("""{"reason":5}""")]
    public async Task A_reason_is_required(string json)
    {
        using var client = await app.ClientWithAsync(["events:write"]);
        var id = await RecordAsync(client, await app.OrgUnitAsync());
        await (await client.PostJsonAsync($"/api/v1/events/{id}/void", json)).AssertValidationAsync("reason");
        using var db = app.OpenDatabase();
        Assert.Null(db.ExecuteScalar<string?>("SELECT voided_at FROM events WHERE id = @id", new { id }));
    }

    [Fact]
    public async Task A_reason_over_500_characters_or_an_id_in_the_body_is_400()
    {
        using var client = await app.ClientWithAsync(["events:write"]);
        var id = await RecordAsync(client, await app.OrgUnitAsync());
        await (await client.PostAsJsonAsync($"/api/v1/events/{id}/void", new { reason = new string('因', 501) }, Ct)).AssertValidationAsync("reason");
        await (await client.PostAsJsonAsync($"/api/v1/events/{id}/void", new { reason = "ok", id = "evt_other" }, Ct)).AssertValidationAsync("id");
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync($"/api/v1/events/{id}/void", new { reason = new string('因', 500) }, Ct)).StatusCode);
    }

    [Fact]
    public async Task Unknown_ids_are_404_and_for_a_bound_key_403_like_ids_outside_its_unit()
    {
        var unit = await app.OrgUnitAsync();
        var sibling = await app.OrgUnitAsync();
        using var wide = await app.ClientWithAsync(["events:write"]);
        await (await wide.PostAsJsonAsync("/api/v1/events/evt_01ZZZZZZZZZZZZZZZZZZZZZZZZ/void", new { reason = "x" }, Ct))
            .AssertProblemAsync(404, "/problems/not-found");
        await (await wide.PostAsJsonAsync("/api/v1/events/nonsense/void", new { reason = "x" }, Ct))
            .AssertProblemAsync(404, "/problems/not-found");

        var outside = await RecordAsync(wide, sibling);
        var child = await app.OrgUnitAsync(unit);
        var inside = await RecordAsync(wide, child);
        using var bound = await app.ClientWithAsync(["events:write"], orgUnit: unit);
        await (await bound.PostAsJsonAsync("/api/v1/events/evt_01ZZZZZZZZZZZZZZZZZZZZZZZZ/void", new { reason = "x" }, Ct))
            .AssertProblemAsync(403, "/problems/forbidden");
        await (await bound.PostAsJsonAsync($"/api/v1/events/{outside}/void", new { reason = "x" }, Ct))
            .AssertProblemAsync(403, "/problems/forbidden");
        Assert.Equal(HttpStatusCode.OK, (await bound.PostAsJsonAsync($"/api/v1/events/{inside}/void", new { reason = "x" }, Ct)).StatusCode);

        using var db = app.OpenDatabase();
        Assert.Null(db.ExecuteScalar<string?>("SELECT voided_at FROM events WHERE id = @outside", new { outside }));
    }

    [Fact]
    public async Task Voiding_in_a_locked_year_is_409_period_locked()
    {
        await using var own = await TallyApp.StartAsync(new Dictionary<string, string?>());
        using var client = own.Admin();
        var id = await RecordAsync(client, "hedong", day: "2023-02-02");
        using (var db = own.OpenDatabase())
            db.Execute("INSERT INTO periods (year, locked, locked_at, lock_reason, updated_at) VALUES (2023, 1, '2025-01-01T00:00:00.0000000Z', 'published', '2025-01-01T00:00:00.0000000Z')");

        await (await client.PostAsJsonAsync($"/api/v1/events/{id}/void", new { reason = "late fix" }, Ct))
            .AssertProblemAsync(409, "/problems/period-locked");
        using var check = own.OpenDatabase();
        Assert.Null(check.ExecuteScalar<string?>("SELECT voided_at FROM events WHERE id = @id", new { id }));
    }

    [Fact]
    public async Task Reading_scope_alone_cannot_void()
    {
        using var writer = await app.ClientWithAsync(["events:write"]);
        var id = await RecordAsync(writer, await app.OrgUnitAsync());
        using var reader = await app.ClientWithAsync(["events:read"]);
        await (await reader.PostAsJsonAsync($"/api/v1/events/{id}/void", new { reason = "x" }, Ct)).AssertProblemAsync(403, "/problems/forbidden");
    }
}
