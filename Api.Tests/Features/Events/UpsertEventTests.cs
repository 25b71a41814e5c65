using System.Net;
using System.Net.Http.Json;
using Dapper;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Events;

public sealed class UpsertEventTests(TallyApp app)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static object Count(string orgUnit, long quantity, string day = "2024-07-01") => new
    {
        metric = "reports.tianjin", occurredOn = day, quantity, orgUnit, note = "涉津有害信息累计",
    };

    private static string Url(string externalId) => "/api/v1/events/external/" + Uri.EscapeDataString(externalId);

    [Fact]
    public async Task Upsert_creates_then_keeps_then_supersedes_and_each_reads_back()
    {
        var unit = await app.OrgUnitAsync();
        using var client = await app.ClientWithAsync(["events:write", "events:read"], source: Unique.Code("platform"));
        var externalId = "running-" + unit;

        var created = await client.PutAsJsonAsync(Url(externalId), Count(unit, 10), Ct);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var createdBody = await created.ReadJsonAsync();
        Assert.Equal("created", createdBody["status"]!.GetValue<string>());
        var firstId = createdBody["event"]!["id"]!.GetValue<string>();
        Assert.Equal($"/api/v1/events/{firstId}", created.Headers.Location?.OriginalString);
        Assert.Equal(externalId, createdBody["event"]!["externalId"]!.GetValue<string>());

        var same = await client.PutAsJsonAsync(Url(externalId), Count(unit, 10), Ct);
        Assert.Equal(HttpStatusCode.OK, same.StatusCode);
        var sameBody = await same.ReadJsonAsync();
        Assert.Equal("unchanged", sameBody["status"]!.GetValue<string>());
        Assert.Equal(firstId, sameBody["event"]!["id"]!.GetValue<string>());

        var changed = await client.PutAsJsonAsync(Url(externalId), Count(unit, 14), Ct);
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        var changedBody = await changed.ReadJsonAsync();
        Assert.Equal("superseded", changedBody["status"]!.GetValue<string>());
        var secondId = changedBody["event"]!["id"]!.GetValue<string>();
        Assert.NotEqual(firstId, secondId);
        Assert.Equal(firstId, changedBody["event"]!["supersedes"]!.GetValue<string>());
        Assert.Equal(14, changedBody["event"]!["quantity"]!.GetValue<long>());
        Assert.Equal("active", changedBody["event"]!["status"]!.GetValue<string>());

        var old = await (await client.GetAsync($"/api/v1/events/{firstId}", Ct)).ReadJsonAsync();
        Assert.Equal("voided", old["status"]!.GetValue<string>());
        Assert.Equal("superseded", old["voidReason"]!.GetValue<string>());
        Assert.Equal(secondId, old["supersededBy"]!.GetValue<string>());
        Assert.NotNull(old["voidedAt"]);
        var current = await (await client.GetAsync($"/api/v1/events/{secondId}", Ct)).ReadJsonAsync();
        Assert.Equal(firstId, current["supersedes"]!.GetValue<string>());
        Assert.Null(current["supersededBy"]);

        using var db = app.OpenDatabase();
        Assert.Equal(14, db.ExecuteScalar<long>("SELECT sum(value) FROM daily_rollups WHERE org_unit = @unit", new { unit }));
        Assert.Equal(1, db.ExecuteScalar<long>("SELECT sum(events) FROM daily_rollups WHERE org_unit = @unit", new { unit }));
        // One entry for the superseding write: the new event's leaf names the old one (supersedes), which records its void.
        Assert.Equal(0, db.ExecuteScalar<int>(
            "SELECT count(*) FROM audit_log WHERE entity = @e", new { e = "event:" + firstId }));
        Assert.Equal(1, db.ExecuteScalar<int>(
            "SELECT count(*) FROM audit_log WHERE action = 'events.created' AND entity = @e", new { e = "events:" + secondId }));
        Assert.Equal(1, db.ExecuteScalar<int>($"SELECT {TestStore.JsonText(db, "data", "events")} FROM audit_log WHERE seq = @seq",
            new { seq = current["auditSeq"]!.GetValue<long>() }));

        // Superseding again moves the head on; the first event stays as it was.
        var third = await (await client.PutAsJsonAsync(Url(externalId), Count(unit, 20), Ct)).ReadJsonAsync();
        Assert.Equal(secondId, third["event"]!["supersedes"]!.GetValue<string>());
        Assert.Equal(20, db.ExecuteScalar<long>("SELECT sum(value) FROM daily_rollups WHERE org_unit = @unit", new { unit }));
        Assert.Equal(3, db.ExecuteScalar<int>("SELECT count(*) FROM events WHERE org_unit = @unit", new { unit }));
    }

    [Fact]
    public async Task Upsert_and_post_share_the_source_and_externalId()
    {
        var unit = await app.OrgUnitAsync();
        using var client = await app.ClientWithAsync(["events:write"]);
        var posted = await (await client.PostAsJsonAsync("/api/v1/events", new
        {
            metric = "reports.tianjin", occurredOn = "2024-07-01", quantity = 3, orgUnit = unit, externalId = "shared-id",
            note = "涉津有害信息累计",
        }, Ct)).ReadJsonAsync();

        var same = await (await client.PutAsJsonAsync(Url("shared-id"), Count(unit, 3), Ct)).ReadJsonAsync();
        Assert.Equal("unchanged", same["status"]!.GetValue<string>());
        Assert.Equal(posted["id"]!.GetValue<string>(), same["event"]!["id"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_body_may_not_carry_an_externalId()
    {
        using var client = await app.ClientWithAsync(["events:write"]);
        var response = await client.PutAsJsonAsync(Url("route-id"), new
        {
            metric = "reports.tianjin", occurredOn = "2024-07-01", quantity = 3, orgUnit = "hedong", externalId = "other",
        }, Ct);
        await response.AssertValidationAsync("externalId");
    }

    [Fact]
    public async Task Invalid_fields_and_externalIds_are_400()
    {
        using var client = await app.ClientWithAsync(["events:write"]);
        await (await client.PutAsJsonAsync(Url("x"), new { metric = "reports.tianjin", occurredOn = "2024-07-01", orgUnit = "hedong" }, Ct))
            .AssertValidationAsync("quantity");
        await (await client.PutAsJsonAsync(Url(new string('e', 201)), Count("hedong", 1), Ct)).AssertValidationAsync("externalId");
        await (await client.PutAsJsonAsync(Url("tab\there"), Count("hedong", 1), Ct)).AssertValidationAsync("externalId");
    }

    [Fact]
    public async Task Chinese_externalIds_round_trip()
    {
        var unit = await app.OrgUnitAsync();
        using var client = await app.ClientWithAsync(["events:write"]);
        var response = await client.PutAsJsonAsync(Url("河东区-2024-累计"), Count(unit, 2), Ct);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("河东区-2024-累计", (await response.ReadJsonAsync())["event"]!["externalId"]!.GetValue<string>());
    }

    [Fact]
    public async Task Superseding_an_event_of_a_locked_year_is_409_and_changes_nothing()
    {
        await using var own = await TallyApp.StartAsync(new Dictionary<string, string?>());
        using var client = own.Admin();
        var first = await (await client.PutAsJsonAsync(Url("locked-one"), Count("hedong", 5, day: "2022-03-01"), Ct)).ReadJsonAsync();
        using (var db = own.OpenDatabase())
            db.Execute("INSERT INTO periods (year, locked, locked_at, lock_reason, updated_at) VALUES (2022, 1, '2025-01-01T00:00:00.0000000Z', 'published', '2025-01-01T00:00:00.0000000Z')");

        // The new content is in an open year, but the old event's year is locked.
        var response = await client.PutAsJsonAsync(Url("locked-one"), Count("hedong", 6, day: "2024-03-01"), Ct);
        await response.AssertProblemAsync(409, "/problems/period-locked");

        using var check = own.OpenDatabase();
        Assert.Equal(1, check.ExecuteScalar<int>("SELECT count(*) FROM events"));
        Assert.Null(check.ExecuteScalar<string?>("SELECT voided_at FROM events WHERE id = @id", new { id = first["event"]!["id"]!.GetValue<string>() }));
        Assert.Equal(0, check.ExecuteScalar<int>("SELECT count(*) FROM audit_log WHERE action LIKE 'event.superseded'"));
        Assert.Equal(1, check.ExecuteScalar<int>("SELECT count(*) FROM audit_log WHERE action = 'events.created'"));
    }

    [Fact]
    public async Task A_voided_event_can_still_be_superseded_and_keeps_its_own_void()
    {
        var unit = await app.OrgUnitAsync();
        using var client = await app.ClientWithAsync(["events:write", "events:read"]);
        var first = await (await client.PutAsJsonAsync(Url("voided-then-" + unit), Count(unit, 5), Ct)).ReadJsonAsync();
        var firstId = first["event"]!["id"]!.GetValue<string>();
        var voided = await client.PostAsJsonAsync($"/api/v1/events/{firstId}/void", new { reason = "录入错误" }, Ct);
        Assert.Equal(HttpStatusCode.OK, voided.StatusCode);

        var replaced = await (await client.PutAsJsonAsync(Url("voided-then-" + unit), Count(unit, 7), Ct)).ReadJsonAsync();
        Assert.Equal("superseded", replaced["status"]!.GetValue<string>());
        var old = await (await client.GetAsync($"/api/v1/events/{firstId}", Ct)).ReadJsonAsync();
        Assert.Equal("录入错误", old["voidReason"]!.GetValue<string>());
        Assert.Equal(replaced["event"]!["id"]!.GetValue<string>(), old["supersededBy"]!.GetValue<string>());
        using var db = app.OpenDatabase();
        Assert.Equal(7, db.ExecuteScalar<long>("SELECT sum(value) FROM daily_rollups WHERE org_unit = @unit", new { unit }));
    }

    [Fact]
    public async Task A_bound_key_cannot_supersede_an_event_outside_its_unit()
    {
        var unit = await app.OrgUnitAsync();
        var sibling = await app.OrgUnitAsync();
        var source = Unique.Code("shared-source");
        using var wide = await app.ClientWithAsync(["events:write"], source: source);
        await wide.PutAsJsonAsync(Url("cross-unit"), Count(sibling, 5), Ct);
        using var bound = await app.ClientWithAsync(["events:write"], orgUnit: unit, source: source);

        await (await bound.PutAsJsonAsync(Url("cross-unit"), Count(sibling, 6), Ct)).AssertProblemAsync(403, "/problems/forbidden");
        await (await bound.PutAsJsonAsync(Url("cross-unit"), Count(unit, 6), Ct)).AssertProblemAsync(403, "/problems/forbidden");
        using var db = app.OpenDatabase();
        Assert.Equal(0, db.ExecuteScalar<int>("SELECT count(*) FROM events WHERE org_unit = @unit", new { unit }));
        Assert.Equal(5, db.ExecuteScalar<long>("SELECT sum(quantity) FROM events WHERE org_unit = @sibling AND voided_at IS NULL", new { sibling }));
    }
}
