using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using MiniExcelLibs;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Events;

public sealed class ExportEventsXlsxTests(TallyApp app)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(string Unit, HttpClient Client)> SeedAsync()
    {
        var unit = await app.OrgUnitAsync();
        var client = await app.ClientWithAsync(["events:write", "events:read"], source: Unique.Code("xlsx"));
        object[] events =
        [
            new { metric = "websites.cleaned", occurredOn = "2024-03-05", quantity = 105, orgUnit = unit, dimensions = new { category = "gambling" }, externalId = "w-1", note = "河东区, \"清朗\" 行动\n第二行 😀" },
            new { metric = "accounts.interviewed", occurredOn = "2024-06-01", quantity = 1_000_000_000, orgUnit = unit, note = "约谈“徐公读城”" },
            new { metric = "leads.handled", occurredOn = "2024-07-07", quantity = 8, orgUnit = unit, dimensions = new { kind = "fraud" }, externalId = "=1+1" },
        ];
        string? last = null;
        foreach (var e in events)
        {
            var response = await client.PostAsJsonAsync("/api/v1/events", e, Ct);
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            last = (await response.ReadJsonAsync())["id"]!.GetValue<string>();
        }
        var voided = await client.PostAsJsonAsync($"/api/v1/events/{last}/void", new { reason = "重复填报" }, Ct);
        Assert.Equal(HttpStatusCode.OK, voided.StatusCode);
        return (unit, client);
    }

    [Fact]
    public async Task An_xlsx_export_opened_again_round_trips_every_field()
    {
        var (unit, client) = await SeedAsync();
        using var _ = client;

        var response = await client.GetAsync($"/api/v1/events/export?format=xlsx&status=all&orgUnit={unit}", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", response.Content.Headers.ContentType?.MediaType);
        using var workbook = new MemoryStream(await response.Content.ReadAsByteArrayAsync(Ct));
        var rows = workbook.Query(useHeaderRow: true, sheetName: "events").Cast<IDictionary<string, object?>>().ToList();
        var ndjson = await client.GetStringAsync($"/api/v1/events/export?format=ndjson&status=all&orgUnit={unit}", Ct);
        var events = ndjson.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(3, rows.Count);
        Assert.Equal(events.Count, rows.Count);
        foreach (var (row, expected) in rows.Zip(events))
        {
            foreach (var field in (string[])["id", "metric", "occurredOn", "orgUnit", "campaign", "externalId", "note", "source",
                         "recordedAt", "status", "voidedAt", "voidReason", "supersedes", "supersededBy"])
                Assert.Equal(expected[field]?.GetValue<string>() is { } text ? ExportEventsTests.Guarded(text) : null, row[field] as string);
            Assert.Equal(expected["quantity"]!.GetValue<long>(), Convert.ToInt64(row["quantity"], System.Globalization.CultureInfo.InvariantCulture));
            foreach (var key in (string[])["category", "kind", "venue"])
                Assert.Equal(expected["dimensions"]![key]?.GetValue<string>(), row["dim." + key] as string);
        }
    }

    [Fact]
    public async Task Chinese_headers_on_request_for_xlsx_and_csv_with_bom()
    {
        var (unit, client) = await SeedAsync();
        using var _ = client;

        var xlsx = await client.GetByteArrayAsync($"/api/v1/events/export?format=xlsx&headers=zh&orgUnit={unit}", Ct);
        using var workbook = new MemoryStream(xlsx);
        var header = workbook.Query(useHeaderRow: false).Cast<IDictionary<string, object?>>().First().Values.Cast<string>().ToList();
        var csv = await client.GetByteArrayAsync($"/api/v1/events/export?format=csv&bom=true&headers=zh&orgUnit={unit}", Ct);

        // The codes an import reads, each with the names a person reads beside it.
        Assert.Equal(["编号", "指标", "指标名称", "日期", "数量", "单位", "填报单位", "填报单位名称", "专项行动", "专项行动名称"], header.Take(10));
        Assert.Contains("外部编号", header);
        Assert.Equal(Encoding.UTF8.Preamble.ToArray(), csv[..3]);
        Assert.StartsWith("编号,指标,指标名称,日期,数量,单位,填报单位,填报单位名称,专项行动,专项行动名称,", Encoding.UTF8.GetString(csv[3..]), StringComparison.Ordinal);
    }
}
