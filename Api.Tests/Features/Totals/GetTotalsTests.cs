using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Dapper;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Totals;

public sealed class GetTotalsTests(TallyApp app)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A fresh tree: root (own tree, no parent) > child > grandchild, and root > sibling.</summary>
    private async Task<(string Root, string Child, string Grandchild, string Sibling)> TreeAsync()
    {
        var root = await app.OrgUnitAsync(parent: null);
        var child = await app.OrgUnitAsync(root);
        return (root, child, await app.OrgUnitAsync(child), await app.OrgUnitAsync(root));
    }

    private static readonly System.Text.Json.JsonSerializerOptions Plain =
        new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static string Rows(JsonNode body) => ContractRows(body["rows"]!);

    /// <summary>
    /// The rows with the contract's keys only: each row's name (the metric's, an extension) is checked to be there and
    /// taken off with the names of its groups, which DimensionValueNameTests checks.
    /// </summary>
    private static string ContractRows(JsonNode rows)
    {
        var copy = rows.DeepClone().AsArray();
        foreach (var row in copy.Select(r => r!.AsObject()))
        {
            Assert.False(string.IsNullOrEmpty(row["name"]?.GetValue<string>()), row.ToJsonString());
            row.Remove("name");
            row.Remove("names");
        }
        return copy.ToJsonString(Plain);
    }


    [Fact]
    public async Task Yearly_totals_sum_the_unit_and_its_descendants_per_metric()
    {
        var (root, child, grandchild, sibling) = await TreeAsync();
        using var writer = await app.ClientWithAsync(["events:write"]);
        await writer.RecordAsync("websites.cleaned", "2024-01-01", 10, child);
        await writer.RecordAsync("websites.cleaned", "2024-12-31", 5, grandchild);
        await writer.RecordAsync("websites.cleaned", "2023-12-31", 1000, child);     // another year
        await writer.RecordAsync("websites.cleaned", "2024-06-01", 7, sibling);     // outside child's subtree
        await writer.RecordAsync("notices.issued", "2024-02-29", 3, grandchild);
        using var reader = await app.ClientWithAsync(["totals:read"]);

        var body = await reader.GetJsonAsync($"/api/v1/totals?year=2024&orgUnit={child}");

        Assert.Equal("2024-01-01", body["from"]!.GetValue<string>());
        Assert.Equal("2024-12-31", body["to"]!.GetValue<string>());
        Assert.Null(body["asOf"]);
        Assert.True(body.AsObject().ContainsKey("asOf"));
        Assert.Equal("""[{"metric":"notices.issued","unit":"次","value":3,"events":1},{"metric":"websites.cleaned","unit":"家","value":15,"events":2}]""",
            Rows(body));
        var whole = await reader.GetJsonAsync($"/api/v1/totals?year=2024&orgUnit={root}&metric=websites.cleaned");
        Assert.Equal("""[{"metric":"websites.cleaned","unit":"家","value":22,"events":3}]""", Rows(whole));
    }

    [Fact]
    public async Task Metrics_without_events_are_omitted_unless_named_then_zero()
    {
        var (root, _, _, _) = await TreeAsync();
        using var writer = await app.ClientWithAsync(["events:write"]);
        await writer.RecordAsync("accounts.interviewed", "2024-05-05", 4, root);
        using var reader = await app.ClientWithAsync(["totals:read"]);

        var all = await reader.GetJsonAsync($"/api/v1/totals?year=2024&orgUnit={root}");
        Assert.Equal("""[{"metric":"accounts.interviewed","unit":"个","value":4,"events":1}]""", Rows(all));

        var named = await reader.GetJsonAsync(
            $"/api/v1/totals?year=2024&orgUnit={root}&metric=reports.tianjin&metric=accounts.interviewed&groupBy=month");
        // Catalog order, whatever order the metrics were named in; the zero row has null group keys.
        Assert.Equal("""[{"metric":"accounts.interviewed","unit":"个","value":4,"events":1,"month":"2024-05"},"""
            + """{"metric":"reports.tianjin","unit":"条","value":0,"events":0,"month":null}]""", Rows(named));
    }

    [Fact]
    public async Task Grouping_by_quarter_month_orgUnit_campaign_and_dimension_combines()
    {
        var (root, child, _, sibling) = await TreeAsync();
        var campaign = Unique.Code("camp");
        using (var admin = app.Admin())
        {
            var created = await admin.PostAsync("/api/v1/campaigns", JsonContent.Create(
                new { code = campaign, name = "清朗行动", startsOn = "2024-01-01", endsOn = "2024-12-31" }), Ct);
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }
        using var writer = await app.ClientWithAsync(["events:write"]);
        await writer.RecordAsync("outreach.sessions", "2024-03-31", 2, child, new { venue = "community" });
        await writer.RecordAsync("outreach.sessions", "2024-04-01", 3, child, new { venue = "community" }, campaign);
        await writer.RecordAsync("outreach.sessions", "2024-04-02", 4, sibling, new { venue = "enterprise" }, campaign);
        await writer.RecordAsync("outreach.sessions", "2024-04-30", 5, sibling);
        using var reader = await app.ClientWithAsync(["totals:read"]);
        var url = $"/api/v1/totals?year=2024&orgUnit={root}&metric=outreach.sessions";

        Assert.Equal("""[{"metric":"outreach.sessions","unit":"次","value":2,"events":1,"quarter":"2024-Q1"},"""
            + """{"metric":"outreach.sessions","unit":"次","value":12,"events":3,"quarter":"2024-Q2"}]""",
            Rows(await reader.GetJsonAsync(url + "&groupBy=quarter")));
        Assert.Equal("""[{"metric":"outreach.sessions","unit":"次","value":2,"events":1,"month":"2024-03"},"""
            + """{"metric":"outreach.sessions","unit":"次","value":12,"events":3,"month":"2024-04"}]""",
            Rows(await reader.GetJsonAsync(url + "&groupBy=month")));
        // Keys come in groupBy order; events without a campaign or a dimension group under null, which sorts first.
        var combined = await reader.GetJsonAsync(url + "&groupBy=dim.venue,campaign,orgUnit");
        var expected = new JsonArray(
            Row(5, 1, ("dim.venue", null), ("campaign", null), ("orgUnit", sibling)),
            Row(2, 1, ("dim.venue", "community"), ("campaign", null), ("orgUnit", child)),
            Row(3, 1, ("dim.venue", "community"), ("campaign", campaign), ("orgUnit", child)),
            Row(4, 1, ("dim.venue", "enterprise"), ("campaign", campaign), ("orgUnit", sibling)));
        Assert.Equal(expected.ToJsonString(Plain), Rows(combined));

        var onlyCampaign = await reader.GetJsonAsync(url + $"&campaign={campaign}&groupBy=orgUnit");
        var byUnit = new[] { Row(3, 1, ("orgUnit", child)), Row(4, 1, ("orgUnit", sibling)) }
            .OrderBy(r => r["orgUnit"]!.GetValue<string>(), StringComparer.Ordinal);
        Assert.Equal(new JsonArray([.. byUnit]).ToJsonString(Plain), Rows(onlyCampaign));
    }

    private static JsonObject Row(long value, long events, params (string Key, string? Value)[] keys)
    {
        var row = new JsonObject { ["metric"] = "outreach.sessions", ["unit"] = "次", ["value"] = value, ["events"] = events };
        foreach (var (key, v) in keys)
            row[key] = v;
        return row;
    }

    [Theory]
    [InlineData("from=2024-01-15&to=2024-03-10", 111)]      // partial months at both ends around a whole one
    [InlineData("from=2024-01-15&to=2024-01-31", 1)]
    [InlineData("from=2024-02-01&to=2024-02-29", 10)]       // exactly one whole month
    [InlineData("from=2024-01-14&to=2024-01-14", 1000)]
    [InlineData("from=2023-12-01&to=2025-01-31", 11111)]    // across years
    [InlineData("from=2024-03-11&to=2024-12-31", 10000)]
    public async Task Any_day_range_counts_exactly_its_days(string period, long expected)
    {
        var (root, _, _, _) = await TreeAsync();
        using var writer = await app.ClientWithAsync(["events:write"]);
        foreach (var (day, quantity) in new[] { ("2024-01-14", 1000L), ("2024-01-15", 1L), ("2024-02-10", 10L), ("2024-03-10", 100L), ("2024-03-11", 10000L) })
            await writer.RecordAsync("notices.issued", day, quantity, root);
        using var reader = await app.ClientWithAsync(["totals:read"]);

        var body = await reader.GetJsonAsync($"/api/v1/totals?{period}&orgUnit={root}&metric=notices.issued");
        Assert.Equal(expected, body["rows"]![0]!["value"]!.GetValue<long>());
    }

    [Fact]
    public async Task A_write_and_a_void_show_in_totals_at_once()
    {
        var (root, _, _, _) = await TreeAsync();
        using var writer = await app.ClientWithAsync(["events:write"]);
        using var reader = await app.ClientWithAsync(["totals:read"]);
        var url = $"/api/v1/totals?year=2024&orgUnit={root}&metric=websites.deregistered";
        var first = await writer.RecordAsync("websites.deregistered", "2024-07-07", 300, root);
        Assert.Equal(300, (await reader.GetJsonAsync(url))["rows"]![0]!["value"]!.GetValue<long>());
        await writer.RecordAsync("websites.deregistered", "2024-07-07", 44, root);
        Assert.Equal(344, (await reader.GetJsonAsync(url))["rows"]![0]!["value"]!.GetValue<long>());

        await app.VoidAsync(first);
        var afterVoid = await reader.GetJsonAsync(url);
        Assert.Equal("""[{"metric":"websites.deregistered","unit":"家","value":44,"events":1}]""", Rows(afterVoid));
        using var db = app.OpenDatabase();
        Assert.Equal(44, db.ExecuteScalar<long>(
            "SELECT sum(value) FROM monthly_rollups WHERE org_unit = @root AND metric = 'websites.deregistered'", new { root }));
    }

    [Fact]
    public async Task AsOf_gives_the_totals_as_they_stood_before_and_after_a_correction()
    {
        var (root, _, _, _) = await TreeAsync();
        using var writer = await app.ClientWithAsync(["events:write"]);
        using var reader = await app.ClientWithAsync(["totals:read"]);
        var url = $"/api/v1/totals?year=2024&orgUnit={root}&metric=reports.political";
        var beforeAll = DateTimeOffset.UtcNow;
        var wrong = await writer.RecordAsync("reports.political", "2024-09-01", 50_000, root);
        await writer.RecordAsync("reports.political", "2024-10-01", 2_000, root);
        var published = DateTimeOffset.UtcNow;
        var replacement = await app.SupersedeAsync(wrong, 50_348);
        var corrected = DateTimeOffset.UtcNow;
        await app.VoidAsync(replacement.Id);

        async Task<long> ValueAt(DateTimeOffset? asOf)
        {
            var body = await reader.GetJsonAsync(url + (asOf is null ? "" : "&asOf=" + Uri.EscapeDataString(asOf.Value.ToString("O"))));
            if (asOf is not null)
                Assert.Equal(asOf.Value, DateTimeOffset.Parse(body["asOf"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture));
            return body["rows"]![0]!["value"]!.GetValue<long>();
        }
        Assert.Equal(0, await ValueAt(beforeAll));
        Assert.Equal(52_000, await ValueAt(published));
        Assert.Equal(52_348, await ValueAt(corrected));
        Assert.Equal(2_000, await ValueAt(DateTimeOffset.UtcNow));
        Assert.Equal(2_000, await ValueAt(null));
        Assert.Equal(52_000, await ValueAt(published)); // still reproducible after the corrections
    }

    [Fact]
    public async Task A_bound_key_defaults_to_its_subtree_and_cannot_look_outside()
    {
        var (root, child, _, sibling) = await TreeAsync();
        using var writer = await app.ClientWithAsync(["events:write"]);
        await writer.RecordAsync("leads.handled", "2024-02-02", 1, child, new { kind = "fraud" });
        await writer.RecordAsync("leads.handled", "2024-02-02", 1, sibling, new { kind = "infringement" });
        using var bound = await app.ClientWithAsync(["totals:read"], orgUnit: child);

        var own = await bound.GetJsonAsync("/api/v1/totals?year=2024&groupBy=dim.kind");
        Assert.Equal("""[{"metric":"leads.handled","unit":"起","value":1,"events":1,"dim.kind":"fraud"}]""", Rows(own));
        await (await bound.GetAsync($"/api/v1/totals?year=2024&orgUnit={root}", Ct)).AssertProblemAsync(403, "/problems/forbidden");
        await (await bound.GetAsync($"/api/v1/totals?year=2024&orgUnit={sibling}", Ct)).AssertProblemAsync(403, "/problems/forbidden");
        using var writerOnly = await app.ClientWithAsync(["events:write"]);
        await (await writerOnly.GetAsync("/api/v1/totals?year=2024", Ct)).AssertProblemAsync(403, "/problems/forbidden");
    }

    public static TheoryData<string, string> InvalidQueries() => new()
    {
        { "", "year" },
        { "year=2024&from=2024-01-01&to=2024-02-01", "year" },
        { "year=2024&to=2024-02-01", "year" },
        { "from=2024-01-01", "to" },
        { "to=2024-01-01", "from" },
        { "from=2024-03-01&to=2024-02-01", "to" },
        { "year=1999", "year" },
        { "year=10000", "year" },
        { "year=twenty", "year" },
        { "year=99999999999", "year" },
        { "from=1999-12-31&to=2000-01-31", "from" },
        { "from=2024-02-30&to=2024-03-01", "from" },
        { "from=03/01/2024&to=2024-03-31", "from" },
        { "year=2024&metric=no.such", "metric" },
        { "year=2024&metric=websites.cleaned&metric=no.such", "metric" },
        { "year=2024&orgUnit=nowhere", "orgUnit" },
        { "year=2024&campaign=nothing", "campaign" },
        { "year=2024&groupBy=week", "groupBy" },
        { "year=2024&groupBy=month,,quarter", "groupBy" },
        { "year=2024&groupBy=month,month", "groupBy" },
        { "year=2024&groupBy=dim.colour", "groupBy" },
        { "year=2024&metric=notices.issued&groupBy=dim.venue", "groupBy" },
        { "year=2024&groupBy=dim.", "groupBy" },
        { "year=2024&asOf=2999-01-01T00:00:00Z", "asOf" },
        { "year=2024&asOf=2024-06-01", "asOf" },
        { "year=2024&asOf=2024-06-01T00:00:00", "asOf" },
        { "year=2024&asOf=yesterday", "asOf" },
    };

    [Theory]
    [MemberData(nameof(InvalidQueries))]
    public async Task Invalid_queries_are_400_naming_the_parameter(string query, string field)
    {
        using var reader = await app.ClientWithAsync(["totals:read"]);
        var body = await (await reader.GetAsync("/api/v1/totals?" + query, Ct)).AssertValidationAsync(field);
        Assert.DoesNotContain("System.", body.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AsOf_accepts_offsets_and_fractions_and_answers_in_utc()
    {
        using var reader = await app.ClientWithAsync(["totals:read"]);
        foreach (var (given, shown) in new[]
        {
            ("2024-06-01T08:00:00%2B08:00", "2024-06-01T00:00:00Z"),
            ("2024-06-01T08:00:00+08:00", "2024-06-01T00:00:00Z"),   // an unencoded + arrives as a space
            ("2024-06-01T00:00:00.5Z", "2024-06-01T00:00:00.5Z"),
        })
        {
            var body = await reader.GetJsonAsync($"/api/v1/totals?year=2024&asOf={given}");
            Assert.Equal(shown, body["asOf"]!.GetValue<string>());
        }
    }
}
