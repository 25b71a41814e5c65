using System.Net;
using System.Net.Http.Json;
using Dapper;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Events;

public sealed class RecordEventTests(TallyApp app)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static object Valid(string orgUnit, string? externalId = null, long quantity = 5) => new
    {
        metric = "websites.cleaned", occurredOn = "2024-03-05", quantity, orgUnit,
        dimensions = new { category = "gambling" }, externalId, note = "河东区清理涉赌网站",
    };

    [Fact]
    public async Task Record_returns_201_with_Location_and_the_event_reads_back()
    {
        var unit = await app.OrgUnitAsync();
        using var client = await app.ClientWithAsync(["events:write", "events:read"], source: "case-system");
        var response = await client.PostAsJsonAsync("/api/v1/events", Valid(unit, "case-1"), Ct);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var body = await response.ReadJsonAsync();
        var id = body["id"]!.GetValue<string>();
        Assert.StartsWith("evt_", id);
        Assert.Equal($"/api/v1/events/{id}", response.Headers.Location?.OriginalString);
        Assert.Equal("case-system", body["source"]!.GetValue<string>());
        Assert.Equal("active", body["status"]!.GetValue<string>());
        Assert.EndsWith("Z", body["recordedAt"]!.GetValue<string>());

        var read = await (await client.GetAsync($"/api/v1/events/{id}", Ct)).ReadJsonAsync();
        Assert.Equal("websites.cleaned", read["metric"]!.GetValue<string>());
        Assert.Equal("2024-03-05", read["occurredOn"]!.GetValue<string>());
        Assert.Equal(5, read["quantity"]!.GetValue<long>());
        Assert.Equal(unit, read["orgUnit"]!.GetValue<string>());
        Assert.Null(read["campaign"]);
        Assert.Equal("gambling", read["dimensions"]!["category"]!.GetValue<string>());
        Assert.Equal("case-1", read["externalId"]!.GetValue<string>());
        Assert.Equal("河东区清理涉赌网站", read["note"]!.GetValue<string>());
        foreach (var field in new[] { "voidedAt", "voidReason", "supersedes", "supersededBy" })
            Assert.True(read.AsObject().ContainsKey(field) && read[field] is null, field);

        using var db = app.OpenDatabase();
        var stored = db.QuerySingle<(long Quantity, string Note, string Dimensions)>(
            "SELECT quantity, note, dimensions FROM events WHERE id = @id", new { id });
        Assert.Equal((5L, "河东区清理涉赌网站", """{"category":"gambling"}"""), stored);
        Assert.Equal(1, db.ExecuteScalar<int>("SELECT count(*) FROM audit_log WHERE entity = @e AND action = 'events.created'", new { e = "events:" + id }));
        Assert.Equal(db.ExecuteScalar<long>("SELECT seq FROM audit_log WHERE entity = @e", new { e = "events:" + id }), read["auditSeq"]!.GetValue<long>());
    }

    [Fact]
    public async Task Replaying_the_same_externalId_and_content_returns_200_with_the_original_and_stores_nothing()
    {
        var unit = await app.OrgUnitAsync();
        using var client = await app.ClientWithAsync(["events:write"]);
        var first = await (await client.PostAsJsonAsync("/api/v1/events", Valid(unit, "daily-2024-03-05"), Ct)).ReadJsonAsync();

        var replay = await client.PostAsJsonAsync("/api/v1/events", Valid(unit, "daily-2024-03-05"), Ct);
        Assert.Equal(HttpStatusCode.OK, replay.StatusCode);
        Assert.Equal(first["id"]!.GetValue<string>(), (await replay.ReadJsonAsync())["id"]!.GetValue<string>());

        using var db = app.OpenDatabase();
        Assert.Equal(1, db.ExecuteScalar<int>("SELECT count(*) FROM events WHERE org_unit = @unit", new { unit }));
    }

    [Fact]
    public async Task Record_returns_409_when_external_id_reused_with_other_body()
    {
        var unit = await app.OrgUnitAsync();
        using var client = await app.ClientWithAsync(["events:write"]);
        await client.PostAsJsonAsync("/api/v1/events", Valid(unit, "ext-1", quantity: 5), Ct);

        var conflict = await client.PostAsJsonAsync("/api/v1/events", Valid(unit, "ext-1", quantity: 6), Ct);
        var problem = await conflict.AssertProblemAsync(409, "/problems/idempotency-conflict");
        Assert.NotNull(problem["errors"]!["externalId"]);

        using var db = app.OpenDatabase();
        Assert.Equal(5, db.ExecuteScalar<long>("SELECT sum(quantity) FROM events WHERE org_unit = @unit", new { unit }));
    }

    [Fact]
    public async Task The_same_externalId_from_another_source_is_another_event()
    {
        var unit = await app.OrgUnitAsync();
        using var a = await app.ClientWithAsync(["events:write"]);
        using var b = await app.ClientWithAsync(["events:write"]);
        Assert.Equal(HttpStatusCode.Created, (await a.PostAsJsonAsync("/api/v1/events", Valid(unit, "shared"), Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await b.PostAsJsonAsync("/api/v1/events", Valid(unit, "shared", 7), Ct)).StatusCode);
    }

    [Fact]
    public async Task Fifty_concurrent_identical_posts_store_exactly_one_event()
    {
        var unit = await app.OrgUnitAsync();
        using var client = await app.ClientWithAsync(["events:write"]);
        var responses = await Task.WhenAll(Enumerable.Range(0, 50)
            .Select(_ => client.PostAsJsonAsync("/api/v1/events", Valid(unit, "concurrent"), Ct)));

        Assert.Single(responses, r => r.StatusCode == HttpStatusCode.Created);
        Assert.Equal(49, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        var ids = await Task.WhenAll(responses.Select(async r => (await r.ReadJsonAsync())["id"]!.GetValue<string>()));
        Assert.Single(ids.Distinct());
        using var db = app.OpenDatabase();
        Assert.Equal(1, db.ExecuteScalar<int>("SELECT count(*) FROM events WHERE org_unit = @unit", new { unit }));
    }

    public static TheoryData<string, string> InvalidBodies() => new()
    {
        { """{"occurredOn":"2024-03-05","quantity":1,"orgUnit":"hedong"}""", "metric" },
        { """{"metric":"no.such","occurredOn":"2024-03-05","quantity":1,"orgUnit":"hedong"}""", "metric" },
        { """{"metric":"websites.cleaned","quantity":1,"orgUnit":"hedong"}""", "occurredOn" },
        { """{"metric":"websites.cleaned","occurredOn":"2024-02-30","quantity":1,"orgUnit":"hedong"}""", "occurredOn" },
        { """{"metric":"websites.cleaned","occurredOn":"05/03/2024","quantity":1,"orgUnit":"hedong"}""", "occurredOn" },
        { """{"metric":"websites.cleaned","occurredOn":"1999-12-31","quantity":1,"orgUnit":"hedong"}""", "occurredOn" },
        { """{"metric":"websites.cleaned","occurredOn":"2999-01-01","quantity":1,"orgUnit":"hedong"}""", "occurredOn" },
        { """{"metric":"websites.cleaned","occurredOn":"2024-03-05","orgUnit":"hedong"}""", "quantity" },
        { """{"metric":"websites.cleaned","occurredOn":"2024-03-05","quantity":0,"orgUnit":"hedong"}""", "quantity" },
        { """{"metric":"websites.cleaned","occurredOn":"2024-03-05","quantity":-3,"orgUnit":"hedong"}""", "quantity" },
        { """{"metric":"websites.cleaned","occurredOn":"2024-03-05","quantity":1000000001,"orgUnit":"hedong"}""", "quantity" },
        { """{"metric":"websites.cleaned","occurredOn":"2024-03-05","quantity":"five","orgUnit":"hedong"}""", "quantity" },
        { """{"metric":"websites.cleaned","occurredOn":"2024-03-05","quantity":1.5,"orgUnit":"hedong"}""", "quantity" },
        { """{"metric":"websites.cleaned","occurredOn":"2024-03-05","quantity":1e40,"orgUnit":"hedong"}""", "quantity" },
        { """{"metric":"websites.cleaned","occurredOn":"2024-03-05","quantity":1}""", "orgUnit" },
        { """{"metric":"websites.cleaned","occurredOn":"2024-03-05","quantity":1,"orgUnit":"nowhere"}""", "orgUnit" },
        { """{"metric":"websites.cleaned","occurredOn":"2024-03-05","quantity":1,"orgUnit":"hedong","campaign":"none"}""", "campaign" },
        { """{"metric":"websites.cleaned","occurredOn":"2024-03-05","quantity":1,"orgUnit":"hedong","dimensions":{"colour":"red"}}""", "dimensions.colour" },
        { """{"metric":"websites.cleaned","occurredOn":"2024-03-05","quantity":1,"orgUnit":"hedong","dimensions":{"category":"fraud"}}""", "dimensions.category" },
        { """{"metric":"websites.cleaned","occurredOn":"2024-03-05","quantity":1,"orgUnit":"hedong","dimensions":{"category":7}}""", "dimensions.category" },
        { """{"metric":"websites.cleaned","occurredOn":"2024-03-05","quantity":1,"orgUnit":"hedong","externalId":""}""", "externalId" },
        { """{"metric":"websites.cleaned","occurredOn":"2024-03-05","quantity":1,"orgUnit":"hedong","externalId":"a\u0000b"}""", "externalId" },
        { """{"metric":"websites.cleaned","occurredOn":"2024-03-05","quantity":1,"orgUnit":"hedong","metrc":"typo"}""", "metrc" },
        { """{"metric":"websites.cleaned","occurredOn":"2024-03-05","quantity":1,"quantity":2,"orgUnit":"hedong"}""", "quantity" },
        { "{\"metric\":\"websites.cleaned\",\"occurredOn\":\"2024-03-05\",\"quantity\":1,\"orgUnit\":\"hedong\"", "body" },
        { """[1,2,3]""", "body" },
        { """not json at all""", "body" },
    };

    [Theory]
    [MemberData(nameof(InvalidBodies))]
    public async Task Invalid_events_are_400_with_the_field_and_nothing_is_stored(string json, string field)
    {
        using var client = await app.ClientWithAsync(["events:write"]);
        var marker = Unique.Code("invalid");
        if (json.StartsWith("{\"metric", StringComparison.Ordinal) || json.StartsWith("{\"occurredOn", StringComparison.Ordinal))
            json = "{\"note\":\"" + marker + "\"," + json[1..];
        var body = await (await client.PostJsonAsync("/api/v1/events", json)).AssertValidationAsync(field);
        Assert.DoesNotContain("System.", body.ToJsonString(), StringComparison.Ordinal);
        using var db = app.OpenDatabase();
        Assert.Equal(0, db.ExecuteScalar<long>("SELECT count(*) FROM events WHERE note = @marker", new { marker }));
    }

    [Fact]
    public async Task Long_strings_are_refused_by_field()
    {
        using var client = await app.ClientWithAsync(["events:write"]);
        var response = await client.PostAsJsonAsync("/api/v1/events", new
        {
            metric = "websites.cleaned", occurredOn = "2024-03-05", quantity = 1, orgUnit = "hedong",
            externalId = new string('x', 201), note = new string('注', 2001),
        }, Ct);
        await response.AssertValidationAsync("externalId", "note");
    }

    [Fact]
    public async Task An_empty_body_is_400()
    {
        using var client = await app.ClientWithAsync(["events:write"]);
        var response = await client.PostAsync("/api/v1/events", new StringContent("", System.Text.Encoding.UTF8, "application/json"), Ct);
        await response.AssertProblemAsync(400, "/problems/validation");
    }

    [Fact]
    public async Task A_key_bound_to_an_org_unit_cannot_write_outside_it()
    {
        var unit = await app.OrgUnitAsync();
        var sibling = await app.OrgUnitAsync();
        var child = await app.OrgUnitAsync(unit);
        using var bound = await app.ClientWithAsync(["events:write"], orgUnit: unit);

        Assert.Equal(HttpStatusCode.Created, (await bound.PostAsJsonAsync("/api/v1/events", Valid(unit), Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await bound.PostAsJsonAsync("/api/v1/events", Valid(child), Ct)).StatusCode);
        await (await bound.PostAsJsonAsync("/api/v1/events", Valid(sibling), Ct)).AssertProblemAsync(403, "/problems/forbidden");
        await (await bound.PostAsJsonAsync("/api/v1/events", Valid("hedong"), Ct)).AssertProblemAsync(403, "/problems/forbidden");

        using var db = app.OpenDatabase();
        Assert.Equal(0, db.ExecuteScalar<int>("SELECT count(*) FROM events WHERE org_unit = @sibling", new { sibling }));
    }

    [Fact]
    public async Task Reading_an_unknown_id_is_404_and_for_a_bound_key_403()
    {
        var unit = await app.OrgUnitAsync();
        using var reader = await app.ClientWithAsync(["events:read"]);
        await (await reader.GetAsync("/api/v1/events/evt_01ZZZZZZZZZZZZZZZZZZZZZZZZ", Ct)).AssertProblemAsync(404, "/problems/not-found");
        await (await reader.GetAsync("/api/v1/events/not-even-an-id", Ct)).AssertProblemAsync(404, "/problems/not-found");

        using var writer = await app.ClientWithAsync(["events:write"]);
        var other = await (await writer.PostAsJsonAsync("/api/v1/events", Valid("hedong"), Ct)).ReadJsonAsync();
        using var bound = await app.ClientWithAsync(["events:read"], orgUnit: unit);
        await (await bound.GetAsync("/api/v1/events/evt_01ZZZZZZZZZZZZZZZZZZZZZZZZ", Ct)).AssertProblemAsync(403, "/problems/forbidden");
        await (await bound.GetAsync($"/api/v1/events/{other["id"]!.GetValue<string>()}", Ct)).AssertProblemAsync(403, "/problems/forbidden");
    }

    [Fact]
    public async Task Chinese_text_and_special_characters_round_trip_unchanged()
    {
        using var client = await app.ClientWithAsync(["events:write", "events:read"]);
        const string note = "约谈“徐公读城”等自媒体账号; DROP TABLE events;-- <script>alert(1)</script> 😀";
        var created = await client.PostAsJsonAsync("/api/v1/events", new
        {
            metric = "accounts.interviewed", occurredOn = "2024-06-01", quantity = 44, orgUnit = "hedong", note,
            externalId = "'; DELETE FROM events; --",
        }, Ct);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = (await created.ReadJsonAsync())["id"]!.GetValue<string>();
        var read = await (await client.GetAsync($"/api/v1/events/{id}", Ct)).ReadJsonAsync();
        Assert.Equal(note, read["note"]!.GetValue<string>());
        Assert.Equal("'; DELETE FROM events; --", read["externalId"]!.GetValue<string>());
    }

    [Fact]
    public async Task Instants_and_ids_are_time_ordered()
    {
        using var client = await app.ClientWithAsync(["events:write"]);
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
            ids.Add((await (await client.PostAsJsonAsync("/api/v1/events", Valid("hedong"), Ct)).ReadJsonAsync())["id"]!.GetValue<string>());
        Assert.Equal(ids.Order(StringComparer.Ordinal), ids);
    }
}
