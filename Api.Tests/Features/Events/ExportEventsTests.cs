using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Dapper;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Events;

public sealed class ExportEventsTests(TallyApp app)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string TrickyNote = "河东区, \"清朗\" 行动\r\n第二行 😀";

    /// <summary>A unit with active and voided events of several shapes: dimensions, a campaign, notes that need quoting.</summary>
    private async Task<(string Unit, HttpClient Client)> SeedAsync()
    {
        var unit = await app.OrgUnitAsync();
        var campaign = Unique.Code("jingwang");
        using (var admin = app.Admin())
        {
            var created = await admin.PostAsJsonAsync("/api/v1/campaigns",
                new { code = campaign, name = "净网专项行动", startsOn = "2024-01-01", endsOn = "2024-12-31" }, Ct);
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }
        var client = await app.ClientWithAsync(["events:write", "events:read"], source: Unique.Code("exporter"));
        var events = new object[]
        {
            new { metric = "websites.cleaned", occurredOn = "2024-03-05", quantity = 105, orgUnit = unit, dimensions = new { category = "gambling" }, externalId = "w-1", note = TrickyNote },
            new { metric = "outreach.sessions", occurredOn = "2024-04-01", quantity = 3, orgUnit = unit, dimensions = new { venue = "community" }, campaign },
            new { metric = "accounts.interviewed", occurredOn = "2024-06-01", quantity = 44, orgUnit = unit, note = "约谈“徐公读城”" },
            new { metric = "leads.handled", occurredOn = "2024-07-07", quantity = 8, orgUnit = unit, dimensions = new { kind = "fraud" }, externalId = "=1+1" },
        };
        var ids = new List<string>();
        foreach (var e in events)
        {
            var response = await client.PostAsJsonAsync("/api/v1/events", e, Ct);
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            ids.Add((await response.ReadJsonAsync())["id"]!.GetValue<string>());
        }
        var voided = await client.PostAsJsonAsync($"/api/v1/events/{ids[2]}/void", new { reason = "重复, 作废" }, Ct);
        Assert.Equal(HttpStatusCode.OK, voided.StatusCode);
        return (unit, client);
    }

    private static async Task<List<JsonNode>> ListingAsync(HttpClient client, string query)
    {
        var response = await client.GetAsync($"/api/v1/events?{query}&limit=1000", Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var page = await response.ReadJsonAsync();
        Assert.Null(page["nextCursor"]);
        return page["items"]!.AsArray().Select(i => i!).ToList();
    }

    [Theory]
    [InlineData("status=all")]
    [InlineData("status=voided")]
    [InlineData("metric=websites.cleaned")]
    [InlineData("from=2024-04-01&to=2024-06-30&status=all")]
    public async Task Ndjson_lines_equal_the_listing_items(string filter)
    {
        var (unit, client) = await SeedAsync();
        using var _ = client;
        var listing = await ListingAsync(client, $"orgUnit={unit}&{filter}");

        var response = await client.GetAsync($"/api/v1/events/export?orgUnit={unit}&{filter}&format=ndjson", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/x-ndjson", response.Content.Headers.ContentType?.MediaType);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.EndsWith("\n", text, StringComparison.Ordinal);
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(listing.Count, lines.Count);
        Assert.NotEmpty(lines);
        for (var i = 0; i < lines.Count; i++)
            Assert.True(JsonNode.DeepEquals(listing[i], lines[i]), $"line {i}: {lines[i].ToJsonString()} vs {listing[i].ToJsonString()}");
    }

    [Fact]
    public async Task Csv_rows_equal_the_listing_items_field_by_field()
    {
        var (unit, client) = await SeedAsync();
        using var _ = client;
        var listing = await ListingAsync(client, $"orgUnit={unit}&status=all");

        var response = await client.GetAsync($"/api/v1/events/export?orgUnit={unit}&status=all&format=csv", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/csv", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("utf-8", response.Content.Headers.ContentType?.CharSet);
        var bytes = await response.Content.ReadAsByteArrayAsync(Ct);
        Assert.False(bytes.AsSpan().StartsWith(Encoding.UTF8.Preamble), "no BOM unless asked");
        var records = Csv.Parse(Encoding.UTF8.GetString(bytes));
        var header = records[0];
        Assert.Equal(["id", "metric", "occurredOn", "quantity", "orgUnit", "campaign"], header.Take(6));
        Assert.Contains("dim.category", header);
        Assert.Contains("dim.venue", header);
        Assert.Contains("dim.kind", header);
        Assert.Equal(["externalId", "note", "source", "recordedAt", "status", "voidedAt", "voidReason", "supersedes", "supersededBy", "auditSeq"],
            header.TakeLast(10));
        Assert.Equal(listing.Count + 1, records.Count);
        for (var i = 0; i < listing.Count; i++)
        {
            var row = header.Zip(records[i + 1]).ToDictionary(p => p.First, p => p.Second);
            foreach (var (field, value) in listing[i].AsObject())
            {
                if (field == "dimensions")
                {
                    foreach (var (key, dim) in value!.AsObject())
                        Assert.Equal(dim!.GetValue<string>(), row["dim." + key]);
                    continue;
                }
                var expected = value switch
                {
                    null => "",
                    JsonValue v when v.TryGetValue<long>(out var number) => number.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    _ => Guarded(value.GetValue<string>()),
                };
                Assert.True(expected == row[field], $"row {i} {field}: '{row[field]}' vs '{expected}'");
            }
        }
        Assert.Contains(records, r => r.Contains(TrickyNote));
    }

    /// <summary>A spreadsheet text cell that would start a formula carries a leading ' (CONTRACT.md, export formats).</summary>
    internal static string Guarded(string text) => text.Length > 0 && "=+-@\t\r".Contains(text[0]) ? "'" + text : text;

    [Fact]
    public async Task Bom_true_starts_the_csv_with_a_byte_order_mark_and_chinese_stays_intact()
    {
        var (unit, client) = await SeedAsync();
        using var _ = client;
        var bytes = await client.GetByteArrayAsync($"/api/v1/events/export?orgUnit={unit}&status=all&bom=true", Ct);
        Assert.True(bytes.AsSpan().StartsWith(Encoding.UTF8.Preamble));
        var text = Encoding.UTF8.GetString(bytes.AsSpan(Encoding.UTF8.Preamble.Length));
        Assert.StartsWith("id,metric,", text, StringComparison.Ordinal);
        Assert.Contains("约谈“徐公读城”", text, StringComparison.Ordinal);
        Assert.Contains("重复, 作废", Csv.Parse(text).SelectMany(r => r));
    }

    [Theory]
    [InlineData("application/x-ndjson", "application/x-ndjson")]
    [InlineData("text/csv", "text/csv")]
    [InlineData("application/json;q=0.9, application/x-ndjson", "application/x-ndjson")]
    [InlineData("text/csv;q=0.5, application/x-ndjson;q=0.8", "application/x-ndjson")]
    [InlineData("*/*", "text/csv")]
    [InlineData(null, "text/csv")]
    [InlineData("application/x-ndjson, text/csv", "application/x-ndjson")]
    [InlineData("text/csv;q=0, */*", "application/x-ndjson")]
    [InlineData("application/*", "application/x-ndjson")]
    [InlineData("text/*", "text/csv")]
    [InlineData("*/*;q=0.5, application/vnd.openxmlformats-officedocument.spreadsheetml.sheet;q=0.5", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")]
    public async Task The_accept_header_chooses_the_format_when_format_is_absent(string? accept, string expected)
    {
        using var client = await app.ClientWithAsync(["events:read"]);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/events/export?orgUnit=hedong&metric=reports.political");
        if (accept is not null)
            request.Headers.Accept.ParseAdd(accept);
        var response = await client.SendAsync(request, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(expected, response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task The_format_parameter_wins_over_accept_and_an_unusable_accept_is_406()
    {
        using var client = await app.ClientWithAsync(["events:read"]);
        using var csv = new HttpRequestMessage(HttpMethod.Get, "/api/v1/events/export?format=csv&metric=reports.political");
        csv.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/x-ndjson"));
        Assert.Equal("text/csv", (await client.SendAsync(csv, Ct)).Content.Headers.ContentType?.MediaType);

        using var json = new HttpRequestMessage(HttpMethod.Get, "/api/v1/events/export?metric=reports.political");
        json.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        await (await client.SendAsync(json, Ct)).AssertProblemAsync(406, "/problems/not-acceptable");
    }

    [Theory]
    [InlineData("headers=fr", "headers", "en or zh")]
    [InlineData("format=ndjson&headers=zh", "headers", "CSV and XLSX")]
    [InlineData("format=pdf", "format", "csv, ndjson or xlsx")]
    [InlineData("bom=yes", "bom", "true or false")]
    [InlineData("format=ndjson&bom=true", "bom", "CSV only")]
    [InlineData("status=deleted", "status", "active, voided or all")]
    [InlineData("from=2024-13-01", "from", "yyyy-MM-dd")]
    [InlineData("limit=10", "limit", "Unknown query parameter")]
    public async Task Bad_parameters_are_400_with_a_clear_message(string query, string field, string message)
    {
        using var client = await app.ClientWithAsync(["events:read"]);
        var body = await (await client.GetAsync("/api/v1/events/export?" + query, Ct)).AssertValidationAsync(field);
        Assert.Contains(message, body["errors"]![field]![0]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bound_key_exports_its_own_subtree_and_cannot_name_another()
    {
        var (unit, writer) = await SeedAsync();
        using var _ = writer;
        var sibling = await app.OrgUnitAsync();
        using var bound = await app.ClientWithAsync(["events:read"], orgUnit: unit);
        var lines = (await bound.GetStringAsync("/api/v1/events/export?format=ndjson&status=all", Ct))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, lines.Length);
        Assert.All(lines, l => Assert.Equal(unit, JsonNode.Parse(l)!["orgUnit"]!.GetValue<string>()));
        await (await bound.GetAsync($"/api/v1/events/export?orgUnit={sibling}", Ct)).AssertProblemAsync(403, "/problems/forbidden");
    }

    [Fact]
    public async Task Writes_go_on_while_an_export_streams_and_the_export_keeps_its_snapshot()
    {
        var unit = await app.OrgUnitAsync();
        using var client = await app.ClientWithAsync(["events:write", "events:read"]);
        for (var start = 0; start < 6000; start += 3000)
        {
            var batch = Enumerable.Range(start, 3000).Select(i => new
            {
                metric = "reports.tianjin", occurredOn = "2024-07-01", quantity = 1, orgUnit = unit, externalId = $"stream-{i}",
                note = "举报涉津有害信息及敏感线索，逐条登记以便核对。",
            });
            Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/api/v1/events/batch", new { events = batch }, Ct)).StatusCode);
        }

        // Start the export and read only its first bytes: the server stays inside its read transaction meanwhile.
        using var export = await client.GetAsync($"/api/v1/events/export?orgUnit={unit}&format=ndjson",
            HttpCompletionOption.ResponseHeadersRead, Ct);
        Assert.Equal(HttpStatusCode.OK, export.StatusCode);
        await using var stream = await export.Content.ReadAsStreamAsync(Ct);
        var first = new byte[64];
        await stream.ReadExactlyAsync(first, Ct);

        // A read that held the write lock would keep this write waiting until SQLite gave up (503).
        var during = await client.PostAsJsonAsync("/api/v1/events",
            new { metric = "reports.tianjin", occurredOn = "2024-07-01", quantity = 1, orgUnit = unit }, Ct);
        Assert.Equal(HttpStatusCode.Created, during.StatusCode);

        using var rest = new StreamReader(stream);
        var text = System.Text.Encoding.UTF8.GetString(first) + await rest.ReadToEndAsync(Ct);
        Assert.Equal(6000, text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        using var db = app.OpenDatabase();
        Assert.Equal(6001, db.ExecuteScalar<long>("SELECT count(*) FROM events WHERE org_unit = @unit", new { unit }));
    }

    [Fact]
    public async Task An_empty_result_is_a_header_row_or_nothing()
    {
        var unit = await app.OrgUnitAsync();
        using var client = await app.ClientWithAsync(["events:read"]);
        var csv = await client.GetStringAsync($"/api/v1/events/export?orgUnit={unit}", Ct);
        Assert.Single(Csv.Parse(csv));
        Assert.Equal("", await client.GetStringAsync($"/api/v1/events/export?orgUnit={unit}&format=ndjson", Ct));
    }

    [Fact]
    public async Task Export_needs_the_read_scope()
    {
        using var writer = await app.ClientWithAsync(["events:write"]);
        await (await writer.GetAsync("/api/v1/events/export", Ct)).AssertProblemAsync(403, "/problems/forbidden");
    }
}

/// <summary>A strict RFC 4180 reader for checking exports: CRLF between records, quoted fields with doubled quotes.</summary>
internal static class Csv
{
    public static List<List<string>> Parse(string text)
    {
        var records = new List<List<string>>();
        var record = new List<string>();
        var field = new StringBuilder();
        var i = 0;
        while (i < text.Length)
        {
            if (text[i] == '"')
            {
                i++;
                while (true)
                {
                    Assert.True(i < text.Length, "unterminated quoted field");
                    if (text[i] == '"')
                    {
                        if (i + 1 < text.Length && text[i + 1] == '"')
                        {
                            field.Append('"');
                            i += 2;
                            continue;
                        }
                        i++;
                        break;
                    }
                    field.Append(text[i++]);
                }
            }
            while (i < text.Length && text[i] != ',' && text[i] != '\r')
            {
                Assert.True(text[i] is not '"' and not '\n', $"stray character at {i}");
                field.Append(text[i++]);
            }
            record.Add(field.ToString());
            field.Clear();
            if (i < text.Length && text[i] == ',')
            {
                i++;
                continue;
            }
            Assert.True(i + 1 < text.Length && text[i] == '\r' && text[i + 1] == '\n', "records end with CRLF");
            i += 2;
            records.Add(record);
            record = [];
        }
        return records;
    }
}
