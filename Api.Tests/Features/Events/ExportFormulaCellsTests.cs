using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using ExcelDataReader;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Events;

/// <summary>CSV and XLSX cells never start a formula (issue 17 finding 8), and Tally's own import takes the guard off.</summary>
public sealed class ExportFormulaCellsTests(TallyApp app)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly string[] Notes =
        ["=HYPERLINK(\"http://x\",\"y\")", "+1+2", "-3", "@SUM(A1:A2)", "\tcmd", "\rcmd", "'=already guarded", "plain 备注"];

    /// <summary>The notes without the lone carriage return, which an XLSX cannot carry (XML reads it as a line feed).</summary>
    private static readonly string[] XlsxNotes = Notes.Where(n => !n.StartsWith('\r')).ToArray();

    private async Task<(string Unit, HttpClient Client)> SeedAsync(string[]? notes = null)
    {
        notes ??= Notes;
        var unit = await app.OrgUnitAsync();
        var client = await app.ClientWithAsync(["events:write", "events:read"], source: Unique.Code("formula"));
        for (var i = 0; i < notes.Length; i++)
        {
            var response = await client.PostAsJsonAsync("/api/v1/events", new
            {
                metric = "notices.issued", occurredOn = "2024-03-05", quantity = i + 1, orgUnit = unit,
                externalId = i == 0 ? "=ext-0" : $"f-{i}", note = notes[i],
            }, Ct);
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        }
        return (unit, client);
    }

    private static string Guarded(string text) => text switch
    {
        "'=already guarded" => "''=already guarded",
        "plain 备注" => text,
        _ => "'" + text,
    };

    [Fact]
    public async Task Csv_and_xlsx_cells_that_start_a_formula_get_a_leading_quote_and_ndjson_and_json_keep_the_text()
    {
        var (unit, client) = await SeedAsync();
        using var _ = client;

        var csv = Csv.Parse(await client.GetStringAsync($"/api/v1/events/export?format=csv&orgUnit={unit}", Ct));
        var xlsx = ReadXlsx(await client.GetByteArrayAsync($"/api/v1/events/export?format=xlsx&orgUnit={unit}", Ct));
        var ndjson = (await client.GetStringAsync($"/api/v1/events/export?format=ndjson&orgUnit={unit}", Ct))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToList();
        var listing = (await client.GetFromJsonAsync<JsonObject>($"/api/v1/events?orgUnit={unit}", Ct))!["items"]!.AsArray();

        foreach (var (sheet, lineEnd) in (ValueTuple<List<List<string?>>, char>[])
                 [(csv.Select(r => r.Select(c => (string?)c).ToList()).ToList(), '\r'), (xlsx, '\n')])
        {
            var note = sheet[0].IndexOf("note");
            var externalId = sheet[0].IndexOf("externalId");
            var quantity = sheet[0].IndexOf("quantity");
            Assert.Equal(Notes.Select(n => Guarded(n).Replace('\r', lineEnd)), sheet.Skip(1).Select(r => r[note]));
            Assert.Equal("'=ext-0", sheet[1][externalId]);
            Assert.Equal("f-1", sheet[2][externalId]);
            Assert.Equal(Enumerable.Range(1, Notes.Length).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                sheet.Skip(1).Select(r => r[quantity]));
        }
        Assert.Equal(Notes, ndjson.Select(e => e["note"]!.GetValue<string>()));
        Assert.Equal(Notes, listing.Select(e => e!["note"]!.GetValue<string>()));
        Assert.Equal("=ext-0", ndjson[0]["externalId"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("csv", "text/csv", "dryRun=true")]
    [InlineData("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "dryRun=true")]
    [InlineData("csv", "text/csv", "mode=upsert")]
    [InlineData("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "mode=upsert")]
    [InlineData("ndjson", "application/x-ndjson", "mode=upsert")]
    public async Task An_export_imported_again_is_unchanged_row_for_row(string format, string contentType, string query)
    {
        var notes = format == "xlsx" ? XlsxNotes : Notes;
        var (unit, client) = await SeedAsync(notes);
        using var _ = client;
        var export = await client.GetByteArrayAsync($"/api/v1/events/export?format={format}&orgUnit={unit}", Ct);

        var import = await ImportAsync(client, export, contentType, query);

        Assert.Equal("succeeded", import["status"]!.GetValue<string>());
        var summary = import["summary"]!;
        Assert.Equal((0, notes.Length, 0), (summary["created"]!.GetValue<int>(), summary["unchanged"]!.GetValue<int>(),
            summary["superseded"]!.GetValue<int>()));
        var listing = (await client.GetFromJsonAsync<JsonObject>($"/api/v1/events?orgUnit={unit}&status=all", Ct))!["items"]!.AsArray();
        Assert.Equal(notes, listing.Select(e => e!["note"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Chinese_headers_of_an_export_import_again_unchanged()
    {
        var (unit, client) = await SeedAsync();
        using var _ = client;
        var export = await client.GetByteArrayAsync($"/api/v1/events/export?format=csv&bom=true&headers=zh&orgUnit={unit}", Ct);

        var import = await ImportAsync(client, export, "text/csv", "dryRun=true");

        Assert.Equal("succeeded", import["status"]!.GetValue<string>());
        Assert.Equal(Notes.Length, import["summary"]!["unchanged"]!.GetValue<int>());
    }

    private static List<List<string?>> ReadXlsx(byte[] workbook)
    {
        Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
        using var stream = new MemoryStream(workbook);
        using var reader = ExcelReaderFactory.CreateOpenXmlReader(stream);
        var rows = new List<List<string?>>();
        while (reader.Read())
            rows.Add(Enumerable.Range(0, reader.FieldCount)
                .Select(i => reader.GetValue(i) switch
                {
                    null => null,
                    double number => ((long)number).ToString(System.Globalization.CultureInfo.InvariantCulture),
                    var value => value.ToString(),
                }).ToList());
        return rows;
    }

    /// <summary>Posts the file, expects 202, then polls the import until it ends (at most a minute).</summary>
    private static async Task<JsonNode> ImportAsync(HttpClient client, byte[] file, string contentType, string query)
    {
        using var content = new ByteArrayContent(file);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        var response = await client.PostAsync($"/api/v1/imports?{query}", content, Ct);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var id = (await response.ReadJsonAsync())["id"]!.GetValue<string>();
        var deadline = DateTime.UtcNow.AddMinutes(1);
        while (DateTime.UtcNow < deadline)
        {
            var import = await (await client.GetAsync($"/api/v1/imports/{id}", Ct)).ReadJsonAsync();
            if (import["status"]!.GetValue<string>() is "succeeded" or "failed")
                return import;
            await Task.Delay(20, Ct);
        }
        throw new TimeoutException($"Import {id} did not end within a minute.");
    }
}
