using System.Net;
using System.Net.Http.Json;
using Dapper;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Events;

/// <summary>Every write that takes a dimension value takes its code or its name; the ledger and responses keep the code.</summary>
public sealed class DimensionValueNameTests(TallyApp app)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string StoredDimensions(string id)
    {
        using var db = app.OpenDatabase();
        return db.ExecuteScalar<string>("SELECT dimensions FROM events WHERE id = @id", new { id })!;
    }

    [Fact]
    public async Task A_value_given_by_name_is_stored_as_its_code_and_replays_as_the_same_content()
    {
        var unit = await app.OrgUnitAsync();
        using var writer = await app.ClientWithAsync(["events:write", "events:read"]);
        var externalId = Unique.Code("x");
        var byName = await writer.PostAsJsonAsync("/api/v1/events", new
        {
            metric = "outreach.sessions", occurredOn = "2024-03-05", quantity = 3, orgUnit = unit,
            dimensions = new { venue = "社区" }, externalId,
        }, Ct);
        Assert.Equal(HttpStatusCode.Created, byName.StatusCode);
        var created = await byName.ReadJsonAsync();
        Assert.Equal("community", created["dimensions"]!["venue"]!.GetValue<string>());
        var id = created["id"]!.GetValue<string>();
        Assert.Equal("""{"venue":"community"}""", StoredDimensions(id));

        // The same event by its code: the same content, so the original comes back and nothing is stored.
        var byCode = await writer.PostAsJsonAsync("/api/v1/events", new
        {
            metric = "outreach.sessions", occurredOn = "2024-03-05", quantity = 3, orgUnit = unit,
            dimensions = new { venue = "community" }, externalId,
        }, Ct);
        Assert.Equal(HttpStatusCode.OK, byCode.StatusCode);
        Assert.Equal(id, (await byCode.ReadJsonAsync())["id"]!.GetValue<string>());
        using var db = app.OpenDatabase();
        Assert.Equal(1, db.ExecuteScalar<int>("SELECT count(*) FROM events WHERE org_unit = @unit", new { unit }));
    }

    [Fact]
    public async Task Batches_and_upserts_take_names_and_an_upsert_by_name_of_the_same_value_is_unchanged()
    {
        var unit = await app.OrgUnitAsync();
        using var writer = await app.ClientWithAsync(["events:write", "events:read"]);
        var batch = await writer.PostAsJsonAsync("/api/v1/events/batch", new
        {
            events = new object[]
            {
                new { metric = "websites.cleaned", occurredOn = "2024-04-01", quantity = 2, orgUnit = unit, dimensions = new { category = "涉赌" } },
                new { metric = "leads.handled", occurredOn = "2024-04-01", quantity = 1, orgUnit = unit, dimensions = new { kind = "fraud" } },
            },
        }, Ct);
        Assert.Equal(HttpStatusCode.OK, batch.StatusCode);
        var items = (await batch.ReadJsonAsync())["items"]!.AsArray();
        Assert.Equal("""{"category":"gambling"}""", StoredDimensions(items[0]!["id"]!.GetValue<string>()));
        Assert.Equal("""{"kind":"fraud"}""", StoredDimensions(items[1]!["id"]!.GetValue<string>()));

        var externalId = Unique.Code("u");
        var first = await writer.PutAsJsonAsync($"/api/v1/events/external/{externalId}", new
        {
            metric = "leads.handled", occurredOn = "2024-04-02", quantity = 4, orgUnit = unit, dimensions = new { kind = "infringement" },
        }, Ct);
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        var again = await writer.PutAsJsonAsync($"/api/v1/events/external/{externalId}", new
        {
            metric = "leads.handled", occurredOn = "2024-04-02", quantity = 4, orgUnit = unit, dimensions = new { kind = "网站侵权" },
        }, Ct);
        var body = await again.ReadJsonAsync();
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal("unchanged", body["status"]!.GetValue<string>());
        Assert.Equal("infringement", body["event"]!["dimensions"]!["kind"]!.GetValue<string>());
        using var db = app.OpenDatabase();
        Assert.Equal(3, db.ExecuteScalar<int>("SELECT count(*) FROM events WHERE org_unit = @unit", new { unit }));
    }

    [Fact]
    public async Task A_name_that_is_no_value_of_the_dimension_is_a_validation_error_naming_codes_and_names()
    {
        var unit = await app.OrgUnitAsync();
        using var writer = await app.ClientWithAsync(["events:write"]);
        writer.DefaultRequestHeaders.AcceptLanguage.ParseAdd("en");
        var response = await writer.PostAsJsonAsync("/api/v1/events", new
        {
            metric = "outreach.sessions", occurredOn = "2024-03-05", quantity = 3, orgUnit = unit, dimensions = new { venue = "涉赌" },
        }, Ct);
        var body = await response.AssertValidationAsync("dimensions.venue");
        Assert.Contains("community (社区)", body["errors"]!["dimensions.venue"]![0]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Event_listing_export_and_totals_filters_take_a_value_name()
    {
        var unit = await app.OrgUnitAsync();
        using var writer = await app.ClientWithAsync(["events:write", "events:read", "totals:read"]);
        var community = await writer.RecordAsync("outreach.sessions", "2024-05-01", 5, unit, new { venue = "community" });
        await writer.RecordAsync("outreach.sessions", "2024-05-01", 7, unit, new { venue = "government" });

        var listed = await writer.GetJsonAsync($"/api/v1/events?orgUnit={unit}&dim.venue=社区");
        Assert.Equal([community], listed["items"]!.AsArray().Select(e => e!["id"]!.GetValue<string>()));

        var csv = await writer.GetStringAsync($"/api/v1/events/export?orgUnit={unit}&dim.venue=社区&format=csv", Ct);
        Assert.Contains(community, csv, StringComparison.Ordinal);
        Assert.Equal(2, csv.Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Length);

        var totals = await writer.GetJsonAsync($"/api/v1/totals?year=2024&orgUnit={unit}&metric=outreach.sessions&dim.venue=社区");
        Assert.Equal(5, totals["rows"]![0]!["value"]!.GetValue<long>());
        var byCode = await writer.GetJsonAsync($"/api/v1/totals?year=2024&orgUnit={unit}&metric=outreach.sessions&dim.venue=community");
        Assert.Equal(5, byCode["rows"]![0]!["value"]!.GetValue<long>());

        var unknown = await writer.GetAsync($"/api/v1/events?orgUnit={unit}&dim.venue=不存在", Ct);
        await unknown.AssertValidationAsync("dim.venue");
    }

    [Fact]
    public async Task Totals_rows_carry_the_metrics_name_and_the_names_of_their_grouped_values()
    {
        var unit = await app.OrgUnitAsync();
        using var writer = await app.ClientWithAsync(["events:write", "totals:read"]);
        await writer.RecordAsync("outreach.sessions", "2024-05-01", 5, unit, new { venue = "社区" });
        await writer.RecordAsync("outreach.sessions", "2024-05-02", 1, unit);

        var totals = await writer.GetJsonAsync($"/api/v1/totals?year=2024&orgUnit={unit}&metric=outreach.sessions&groupBy=orgUnit,dim.venue");
        var rows = totals["rows"]!.AsArray();
        Assert.Equal(2, rows.Count);
        Assert.All(rows, r => Assert.Equal("网络举报主题宣传活动", r!["name"]!.GetValue<string>()));
        var withVenue = rows.Single(r => r!["dim.venue"] is not null)!;
        Assert.Equal("community", withVenue["dim.venue"]!.GetValue<string>());
        Assert.Equal("社区", withVenue["names"]!["dim.venue"]!.GetValue<string>());
        Assert.Equal("测试单位 " + unit, withVenue["names"]!["orgUnit"]!.GetValue<string>());
        var without = rows.Single(r => r!["dim.venue"] is null)!;
        Assert.Null(without["names"]!["dim.venue"]);

        // Not grouped by anything with a name: the metric's name only.
        var plain = await writer.GetJsonAsync($"/api/v1/totals?year=2024&orgUnit={unit}&metric=outreach.sessions&groupBy=month");
        Assert.Equal("网络举报主题宣传活动", plain["rows"]![0]!["name"]!.GetValue<string>());
        Assert.Null(plain["rows"]![0]!["names"]);
    }
}
