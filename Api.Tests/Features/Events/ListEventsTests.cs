using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Dapper;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Events;

public sealed class ListEventsTests(TallyApp app)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<string> RecordAsync(HttpClient client, string orgUnit, string day = "2024-05-01",
        string metric = "leads.handled", string? campaign = null, long quantity = 1)
    {
        var response = await client.PostAsJsonAsync("/api/v1/events", new { metric, occurredOn = day, quantity, orgUnit, campaign }, Ct);
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync(Ct));
        return (await response.ReadJsonAsync())["id"]!.GetValue<string>();
    }

    private static async Task<List<JsonNode>> AllPagesAsync(HttpClient client, string query, int limit = 1000)
    {
        var items = new List<JsonNode>();
        string? cursor = null;
        do
        {
            var url = $"/api/v1/events?{query}&limit={limit}" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor));
            var response = await client.GetAsync(url, Ct);
            Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync(Ct));
            var page = await response.ReadJsonAsync();
            items.AddRange(page["items"]!.AsArray().Select(i => i!));
            cursor = page["nextCursor"]?.GetValue<string>();
        }
        while (cursor is not null);
        return items;
    }

    private static List<string> Ids(IEnumerable<JsonNode> items) => items.Select(i => i["id"]!.GetValue<string>()).ToList();

    [Fact]
    public async Task The_listing_includes_descendant_units_in_id_order_and_reads_like_GET_by_id()
    {
        var unit = await app.OrgUnitAsync();
        var child = await app.OrgUnitAsync(unit);
        var grandchild = await app.OrgUnitAsync(child);
        var sibling = await app.OrgUnitAsync();
        using var client = await app.ClientWithAsync(["events:write", "events:read"]);
        var expected = new List<string>
        {
            await RecordAsync(client, unit), await RecordAsync(client, grandchild), await RecordAsync(client, child),
        };
        await RecordAsync(client, sibling);

        var items = await AllPagesAsync(client, $"orgUnit={unit}");

        Assert.Equal(expected, Ids(items));
        var single = await (await client.GetAsync($"/api/v1/events/{expected[1]}", Ct)).ReadJsonAsync();
        Assert.True(JsonNode.DeepEquals(single, items[1]));
        Assert.Equal([expected[1], expected[2]], Ids(await AllPagesAsync(client, $"orgUnit={child}")));
        Assert.Equal([expected[1]], Ids(await AllPagesAsync(client, $"orgUnit={grandchild}")));
    }

    [Fact]
    public async Task Each_filter_narrows_the_listing()
    {
        var unit = await app.OrgUnitAsync();
        var campaign = Unique.Code("qinglang");
        using (var admin = app.Admin())
        {
            var created = await admin.PostAsJsonAsync("/api/v1/campaigns",
                new { code = campaign, name = "清朗专项行动", startsOn = "2024-01-01", endsOn = "2024-12-31" }, Ct);
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }
        using var client = await app.ClientWithAsync(["events:write", "events:read"]);
        using var other = await app.ClientWithAsync(["events:write"], source: "other-system");
        var early = await RecordAsync(client, unit, day: "2024-01-31");
        var inCampaign = await RecordAsync(client, unit, day: "2024-02-01", campaign: campaign);
        var otherMetric = await RecordAsync(client, unit, day: "2024-02-29", metric: "notices.issued");
        var late = await RecordAsync(client, unit, day: "2024-03-01");
        var fromOther = await RecordAsync(other, unit, day: "2024-02-10");
        DateTimeOffset recordedBefore;
        using (var db = app.OpenDatabase())
            recordedBefore = Tally.Api.Data.Instant.FromStorage(db.ExecuteScalar<string>("SELECT recorded_at FROM events WHERE id = @inCampaign", new { inCampaign })!);
        var asZ = recordedBefore.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", System.Globalization.CultureInfo.InvariantCulture);
        var asOffset = Uri.EscapeDataString(recordedBefore.ToOffset(TimeSpan.FromHours(8)).ToString("yyyy-MM-dd'T'HH:mm:ss.fffffffzzz", System.Globalization.CultureInfo.InvariantCulture));

        Assert.Equal([early, inCampaign, late, fromOther], Ids(await AllPagesAsync(client, $"orgUnit={unit}&metric=leads.handled")));
        Assert.Equal([inCampaign], Ids(await AllPagesAsync(client, $"orgUnit={unit}&campaign={campaign}")));
        Assert.Equal([fromOther], Ids(await AllPagesAsync(client, $"orgUnit={unit}&source=other-system")));
        Assert.Equal([inCampaign, otherMetric, fromOther], Ids(await AllPagesAsync(client, $"orgUnit={unit}&from=2024-02-01&to=2024-02-29")));
        Assert.Equal([early], Ids(await AllPagesAsync(client, $"orgUnit={unit}&to=2024-01-31")));
        Assert.Equal([otherMetric, late, fromOther], Ids(await AllPagesAsync(client, $"orgUnit={unit}&recordedAfter={asZ}")));
        Assert.Equal([otherMetric, late, fromOther], Ids(await AllPagesAsync(client, $"orgUnit={unit}&recordedAfter={asOffset}")));
    }

    [Fact]
    public async Task Voided_events_are_left_out_by_default_and_shown_with_status_all_or_voided()
    {
        var unit = await app.OrgUnitAsync();
        using var client = await app.ClientWithAsync(["events:write", "events:read"]);
        var kept = await RecordAsync(client, unit);
        var voided = await RecordAsync(client, unit);
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync($"/api/v1/events/{voided}/void", new { reason = "重复" }, Ct)).StatusCode);

        Assert.Equal([kept], Ids(await AllPagesAsync(client, $"orgUnit={unit}")));
        Assert.Equal([kept], Ids(await AllPagesAsync(client, $"orgUnit={unit}&status=active")));
        var all = await AllPagesAsync(client, $"orgUnit={unit}&status=all");
        Assert.Equal([kept, voided], Ids(all));
        Assert.Equal("voided", all[1]["status"]!.GetValue<string>());
        Assert.Equal("重复", all[1]["voidReason"]!.GetValue<string>());
        Assert.Equal([voided], Ids(await AllPagesAsync(client, $"orgUnit={unit}&status=voided")));
    }

    [Fact]
    public async Task Pages_follow_the_cursor_without_gaps_or_repeats()
    {
        var unit = await app.OrgUnitAsync();
        using var client = await app.ClientWithAsync(["events:write", "events:read"]);
        var expected = new List<string>();
        for (var i = 0; i < 7; i++)
            expected.Add(await RecordAsync(client, unit));

        var first = await (await client.GetAsync($"/api/v1/events?orgUnit={unit}&limit=3", Ct)).ReadJsonAsync();
        Assert.Equal(3, first["items"]!.AsArray().Count);
        Assert.NotNull(first["nextCursor"]);
        Assert.Equal(expected, Ids(await AllPagesAsync(client, $"orgUnit={unit}", limit: 3)));
        Assert.Equal(expected, Ids(await AllPagesAsync(client, $"orgUnit={unit}", limit: 7)));
        var exact = await (await client.GetAsync($"/api/v1/events?orgUnit={unit}&limit=7", Ct)).ReadJsonAsync();
        Assert.Null(exact["nextCursor"]);
    }

    [Theory]
    [InlineData("2024-05-02", "2024-05-02")]
    [InlineData("2024-05-01", "2024-05-03")]
    [InlineData("2024-04-15", "2024-06-15")]
    [InlineData("2021-01-01", "2024-12-31")]
    public async Task A_period_of_one_day_a_few_or_many_lists_and_exports_in_id_order(string from, string to)
    {
        var unit = await app.OrgUnitAsync();
        using var client = await app.ClientWithAsync(["events:write", "events:read"]);
        // Days recorded out of order, so id order and day order differ.
        string[] days = ["2024-05-03", "2024-05-02", "2021-01-01", "2024-05-02", "2024-06-15", "2024-05-01", "2024-04-14", "2024-05-02", "2025-01-01"];
        var recorded = new List<(string Id, string Day)>();
        foreach (var day in days)
            recorded.Add((await RecordAsync(client, unit, day: day), day));
        var expected = recorded.Where(r => string.CompareOrdinal(r.Day, from) >= 0 && string.CompareOrdinal(r.Day, to) <= 0)
            .Select(r => r.Id).ToList();

        Assert.Equal(expected, Ids(await AllPagesAsync(client, $"orgUnit={unit}&from={from}&to={to}", limit: 2)));
        var export = await client.GetStringAsync($"/api/v1/events/export?orgUnit={unit}&from={from}&to={to}&format=ndjson", Ct);
        Assert.Equal(expected, export.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!["id"]!.GetValue<string>()));
    }

    /// <summary>A unit with a child, and leads.handled events of each kind (and none) in both, recorded interleaved.</summary>
    private async Task<(string Unit, string Child, HttpClient Client, List<(string Id, string Unit, string? Kind)> Events)> SeedKindsAsync()
    {
        var unit = await app.OrgUnitAsync();
        var child = await app.OrgUnitAsync(unit);
        var client = await app.ClientWithAsync(["events:write", "events:read"]);
        var recorded = new List<(string Id, string Unit, string? Kind)>();
        string?[] kinds = ["fraud", "infringement", null, "fraud", "fraud", "infringement", null, "fraud"];
        for (var i = 0; i < kinds.Length; i++)
        {
            var where = i % 3 == 0 ? child : unit;
            var dimensions = kinds[i] is { } kind ? new Dictionary<string, string> { ["kind"] = kind } : [];
            var response = await client.PostAsJsonAsync("/api/v1/events", new
            {
                metric = "leads.handled", occurredOn = $"2024-05-0{1 + i % 3}", quantity = i + 1, orgUnit = where, dimensions,
            }, Ct);
            Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync(Ct));
            recorded.Add(((await response.ReadJsonAsync())["id"]!.GetValue<string>(), where, kinds[i]));
        }
        var other = await client.PostAsJsonAsync("/api/v1/events", new
        {
            metric = "websites.cleaned", occurredOn = "2024-05-01", quantity = 9, orgUnit = unit, dimensions = new { category = "gambling" },
        }, Ct);
        Assert.Equal(HttpStatusCode.Created, other.StatusCode);
        return (unit, child, client, recorded);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(1000)]
    public async Task A_dimension_filter_is_applied_on_the_server_so_every_page_holds_only_matching_events(int limit)
    {
        var (unit, _, client, events) = await SeedKindsAsync();
        using var _client = client;
        var fraud = events.Where(e => e.Kind == "fraud").Select(e => e.Id).ToList();

        var items = await AllPagesAsync(client, $"orgUnit={unit}&metric=leads.handled&dim.kind=fraud", limit);

        Assert.Equal(fraud, Ids(items));
        Assert.All(items, i => Assert.Equal("fraud", i["dimensions"]!["kind"]!.GetValue<string>()));
        var first = await (await client.GetAsync($"/api/v1/events?orgUnit={unit}&metric=leads.handled&dim.kind=fraud&limit=2", Ct)).ReadJsonAsync();
        Assert.Equal(fraud.Take(2), Ids(first["items"]!.AsArray().Select(i => i!)));
        Assert.NotNull(first["nextCursor"]);
        // Without a metric the key is any metric's: websites.cleaned's category is filtered the same way.
        Assert.Single(await AllPagesAsync(client, $"orgUnit={unit}&dim.category=gambling"));
        Assert.Empty(await AllPagesAsync(client, $"orgUnit={unit}&dim.kind=fraud&dim.category=gambling"));
    }

    [Fact]
    public async Task Include_descendants_false_lists_the_unit_alone_and_combines_with_a_dimension()
    {
        var (unit, child, client, events) = await SeedKindsAsync();
        using var _client = client;

        var alone = await AllPagesAsync(client, $"orgUnit={unit}&metric=leads.handled&includeDescendants=false", limit: 2);
        Assert.Equal(events.Where(e => e.Unit == unit).Select(e => e.Id), Ids(alone));
        Assert.Equal(events.Select(e => e.Id), Ids(await AllPagesAsync(client, $"orgUnit={unit}&metric=leads.handled&includeDescendants=true")));
        var aloneFraud = await AllPagesAsync(client, $"orgUnit={unit}&metric=leads.handled&dim.kind=fraud&includeDescendants=false", limit: 1);
        Assert.Equal(events.Where(e => e.Unit == unit && e.Kind == "fraud").Select(e => e.Id), Ids(aloneFraud));
        Assert.Equal(events.Where(e => e.Unit == child).Select(e => e.Id),
            Ids(await AllPagesAsync(client, $"orgUnit={child}&includeDescendants=false")));
    }

    [Theory]
    [InlineData("ndjson")]
    [InlineData("csv")]
    public async Task The_export_holds_exactly_the_events_the_filtered_listing_shows(string format)
    {
        var (unit, _, client, events) = await SeedKindsAsync();
        using var _client = client;
        var filter = $"orgUnit={unit}&metric=leads.handled&dim.kind=fraud&includeDescendants=false";
        var expected = events.Where(e => e.Unit == unit && e.Kind == "fraud").Select(e => e.Id).ToList();
        Assert.Equal(expected, Ids(await AllPagesAsync(client, filter, limit: 1)));

        var body = await client.GetStringAsync($"/api/v1/events/export?{filter}&format={format}", Ct);

        var lines = body.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var exported = format == "ndjson"
            ? lines.Select(l => JsonNode.Parse(l)!["id"]!.GetValue<string>()).ToList()
            : lines.Skip(1).Select(l => l.Split(',')[0]).ToList();
        Assert.Equal(expected, exported);
    }

    [Theory]
    [InlineData("metric=leads.handled&dim.venue=community", "dim.venue")]
    [InlineData("metric=leads.handled&dim.kind=gambling", "dim.kind")]
    [InlineData("dim.nosuch=x", "dim.nosuch")]
    [InlineData("dim.kind=fraud&dim.kind=infringement", "dim.kind")]
    [InlineData("includeDescendants=no", "includeDescendants")]
    public async Task Bad_dimension_and_descendant_filters_are_400_keyed_by_the_parameter_in_listing_and_export(string query, string field)
    {
        using var client = await app.ClientWithAsync(["events:read"]);
        await (await client.GetAsync("/api/v1/events?" + query, Ct)).AssertValidationAsync(field);
        await (await client.GetAsync("/api/v1/events/export?format=ndjson&" + query, Ct)).AssertValidationAsync(field);
    }

    [Theory]
    [InlineData(1, "2024-05-02", "2024-05-02", null, "ix_events_day (occurred_on=?)")]
    [InlineData(31, "2024-05-01", "2024-05-31", null, "ix_events_day (occurred_on>? AND occurred_on<?)")]
    [InlineData(31, "2024-01-01", "2024-12-31", null, TableWalk)]
    [InlineData(1, "2024-01-01", "2024-12-31", "leads.handled", TableWalk)]
    [InlineData(1, "2024-05-02", "2024-05-02", "leads.handled", "ix_events_metric_day (metric=? AND occurred_on=?)")]
    public void A_dimension_filter_keeps_the_plan_of_the_other_filters(int daySeekSpan, string from, string to, string? metric, string index)
    {
        TestStore.SkipUnlessSqlite("SQLite's query plans");
        string PlanOf(IReadOnlyList<Tally.Api.Features.Events.DimensionFilter>? dimensions)
        {
            var filter = new Tally.Api.Features.Events.EventFilter(metric, null, false, null, null,
                DateOnly.Parse(from, System.Globalization.CultureInfo.InvariantCulture),
                DateOnly.Parse(to, System.Globalization.CultureInfo.InvariantCulture), Tally.Api.Features.Events.EventStatusFilter.Active,
                null, dimensions);
            var (where, parameters) = filter.ToSql(daySeekSpan: daySeekSpan);
            using var db = app.OpenDatabase();
            return string.Join("\n", db.Query($"EXPLAIN QUERY PLAN SELECT e.id FROM events e WHERE {where} ORDER BY e.seq LIMIT 100",
                new DynamicParameters(parameters)).Select(row => (string)row.detail));
        }

        var plan = PlanOf([new("kind", "fraud"), new("category", "gambling")]);

        AssertPlan(index, plan);
        Assert.Equal(PlanOf(null), plan);
    }

    [Theory]
    [InlineData(1, "2024-05-02", "2024-05-02", "ix_events_day (occurred_on=?)")]
    [InlineData(31, "2024-05-01", "2024-05-31", "ix_events_day (occurred_on>? AND occurred_on<?)")]
    [InlineData(31, "2024-01-01", "2024-12-31", TableWalk)]
    [InlineData(1, "2024-05-01", "2024-05-03", TableWalk)]
    public void A_short_period_is_sought_by_day_and_a_long_one_walked_in_id_order(int daySeekSpan, string from, string to, string index)
    {
        TestStore.SkipUnlessSqlite("SQLite's query plans");
        var filter = new Tally.Api.Features.Events.EventFilter(null, null, false, null, null, DateOnly.Parse(from, System.Globalization.CultureInfo.InvariantCulture),
            DateOnly.Parse(to, System.Globalization.CultureInfo.InvariantCulture), Tally.Api.Features.Events.EventStatusFilter.Active, null);
        var (where, parameters) = filter.ToSql(daySeekSpan: daySeekSpan);

        using var db = app.OpenDatabase();
        var plan = string.Join("\n", db.Query($"EXPLAIN QUERY PLAN SELECT e.id FROM events e WHERE {where} ORDER BY e.seq LIMIT 100",
            new DynamicParameters(parameters)).Select(row => (string)row.detail));

        AssertPlan(index, plan);
    }

    /// <summary>The plan of a walk over the table in seq order: no index, no sort, so it stops after a page.</summary>
    private const string TableWalk = "SCAN e";

    private static void AssertPlan(string expected, string plan)
    {
        if (expected == TableWalk)
            Assert.Equal(TableWalk, plan);
        else
            Assert.Contains(expected, plan, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Paging_stays_exact_while_a_writer_records_beside_it()
    {
        var unit = await app.OrgUnitAsync();
        using var writer = await app.ClientWithAsync(["events:write"]);
        using var reader = await app.ClientWithAsync(["events:read"]);
        for (var i = 0; i < 20; i++)
            await RecordAsync(writer, unit);

        using var stop = new CancellationTokenSource();
        using var committed = new SemaphoreSlim(0);
        var writing = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var batch = Enumerable.Range(0, 3).Select(_ => new { metric = "leads.handled", occurredOn = "2024-05-01", quantity = 1, orgUnit = unit });
                var response = await writer.PostAsJsonAsync("/api/v1/events/batch", new { events = batch }, Ct);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                committed.Release();
            }
        }, Ct);

        // Page while the writer runs, with at least one commit between pages; after ten pages stop it and page on to the end.
        var seen = new List<string>();
        string? cursor = null;
        var pages = 0;
        do
        {
            // Two per page while each wait brings at least three more: the reader cannot catch up before it stops the writer.
            var url = $"/api/v1/events?orgUnit={unit}&limit=2" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor));
            var page = await (await reader.GetAsync(url, Ct)).ReadJsonAsync();
            seen.AddRange(Ids(page["items"]!.AsArray().Select(i => i!)));
            cursor = page["nextCursor"]?.GetValue<string>();
            if (++pages < 10)
                await committed.WaitAsync(Ct);
            else
                await stop.CancelAsync();
        }
        while (cursor is not null);
        await stop.CancelAsync();
        await writing;

        using var db = app.OpenDatabase();
        var stored = db.Query<string>("SELECT id FROM events WHERE org_unit = @unit ORDER BY id", new { unit }).ToList();
        Assert.Equal(seen.Distinct().Count(), seen.Count);
        // Nothing skipped or repeated up to the last event seen; anything later was committed after the last page.
        Assert.Equal(stored.Where(id => string.CompareOrdinal(id, seen[^1]) <= 0), seen);
        Assert.True(seen.Count >= 20 + (9 * 3), $"only {seen.Count} events were paged");
    }

    [Theory]
    [InlineData("status=deleted", "status")]
    [InlineData("from=2024-02-30", "from")]
    [InlineData("from=05/03/2024", "from")]
    [InlineData("to=2024-13-01", "to")]
    [InlineData("from=2024-03-02&to=2024-03-01", "to")]
    [InlineData("recordedAfter=yesterday", "recordedAfter")]
    [InlineData("recordedAfter=2025-01-06T09:30:00", "recordedAfter")]
    [InlineData("metric=no.such", "metric")]
    [InlineData("orgUnit=nowhere", "orgUnit")]
    [InlineData("campaign=none", "campaign")]
    [InlineData("limit=1001", "limit")]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=many", "limit")]
    [InlineData("cursor=not-a-cursor", "cursor")]
    [InlineData("metrc=leads.handled", "metrc")]
    [InlineData("metric=leads.handled&metric=notices.issued", "metric")]
    public async Task Bad_filters_are_400_keyed_by_the_parameter(string query, string field)
    {
        using var client = await app.ClientWithAsync(["events:read"]);
        await (await client.GetAsync("/api/v1/events?" + query, Ct)).AssertValidationAsync(field);
    }

    [Fact]
    public async Task A_bound_key_lists_its_own_subtree_by_default_and_cannot_name_another()
    {
        var unit = await app.OrgUnitAsync();
        var child = await app.OrgUnitAsync(unit);
        var sibling = await app.OrgUnitAsync();
        using var writer = await app.ClientWithAsync(["events:write"]);
        var mine = new List<string> { await RecordAsync(writer, unit), await RecordAsync(writer, child) };
        await RecordAsync(writer, sibling);
        using var bound = await app.ClientWithAsync(["events:read"], orgUnit: unit);

        Assert.Equal(mine, Ids(await AllPagesAsync(bound, "status=all")));
        Assert.Equal([mine[1]], Ids(await AllPagesAsync(bound, $"orgUnit={child}")));
        await (await bound.GetAsync($"/api/v1/events?orgUnit={sibling}", Ct)).AssertProblemAsync(403, "/problems/forbidden");
        await (await bound.GetAsync("/api/v1/events?orgUnit=hedong", Ct)).AssertProblemAsync(403, "/problems/forbidden");
    }

    [Fact]
    public async Task Listing_needs_the_read_scope()
    {
        using var writer = await app.ClientWithAsync(["events:write"]);
        await (await writer.GetAsync("/api/v1/events", Ct)).AssertProblemAsync(403, "/problems/forbidden");
    }
}
