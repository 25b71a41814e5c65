using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Dapper;
using MiniExcelLibs;
using Tally.Api.Features.Imports;
using Tally.Api.Ledger;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Imports;

public sealed class ImportTests(TallyApp app)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<HttpResponseMessage> PostFileAsync(HttpClient client, byte[] file, string contentType, string query)
    {
        using var content = new ByteArrayContent(file);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        return await client.PostAsync($"/api/v1/imports?{query}", content, Ct);
    }

    /// <summary>Posts the file, expects 202, then polls the import until it ends.</summary>
    internal static async Task<JsonNode> ImportAsync(HttpClient client, byte[] file, string query, string contentType = "text/csv")
    {
        var response = await PostFileAsync(client, file, contentType, query);
        var accepted = await response.ReadJsonAsync();
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var id = accepted["id"]!.GetValue<string>();
        Assert.Equal($"/api/v1/imports/{id}", response.Headers.Location!.OriginalString);
        Assert.Contains(accepted["status"]!.GetValue<string>(), (string[])["queued", "running", "succeeded", "failed"]);
        // Deadlines far past any import these tests make on a busy machine: a stuck import fails the test with what it
        // last showed, when it has not moved for a minute or has run for ten.
        var started = DateTime.UtcNow;
        var (lastMoved, lastProgress) = (started, "");
        while (true)
        {
            var import = await (await client.GetAsync($"/api/v1/imports/{id}", Ct)).ReadJsonAsync();
            var status = import["status"]!.GetValue<string>();
            if (status is "succeeded" or "failed")
                return import;
            var progress = $"{status} {import["processed"]}";
            if (progress != lastProgress)
                (lastMoved, lastProgress) = (DateTime.UtcNow, progress);
            if (DateTime.UtcNow - lastMoved > StalledDeadline || DateTime.UtcNow - started > ImportDeadline)
                Assert.Fail($"Import {id} did not finish (no progress for {StalledDeadline.TotalSeconds} s, or past "
                    + $"{ImportDeadline.TotalMinutes} min); it last showed {import.ToJsonString()}");
            await Task.Delay(20, Ct);
        }
    }

    private static readonly TimeSpan StalledDeadline = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan ImportDeadline = TimeSpan.FromMinutes(10);

    private static void AssertSummary(JsonNode import, int created, int unchanged = 0, int superseded = 0, int invalid = 0,
        int conflicts = 0)
    {
        var summary = import["summary"]!;
        Assert.Equal([created, unchanged, superseded, invalid, conflicts],
            (int[])[summary["created"]!.GetValue<int>(), summary["unchanged"]!.GetValue<int>(),
                summary["superseded"]!.GetValue<int>(), summary["invalid"]!.GetValue<int>(), summary["conflicts"]!.GetValue<int>()]);
    }

    private List<(string Metric, string OccurredOn, long Quantity, string? ExternalId, string? Note, string Dimensions)> Stored(
        string unit, bool activeOnly = true)
    {
        using var db = app.OpenDatabase();
        return db.Query<(string, string, long, string?, string?, string)>(
            $"""
            SELECT metric, occurred_on, quantity, external_id, note, dimensions FROM events
            WHERE org_unit = @unit {(activeOnly ? "AND voided_at IS NULL" : "")} ORDER BY external_id
            """, new { unit }).ToList();
    }

    /// <summary>The externalId of the first row of an identity without a campaign (CONTRACT.md, Imports; docs/integration-guide.md).</summary>
    private static string RowId(string name, string metric, string day, string unit, string dimensions) =>
        $"{name}:{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes($"{metric}\n{day}\n{unit}\n\n{dimensions}")))[..16]}:0";

    private static byte[] Utf8(string text, bool bom = false) =>
        [.. bom ? Encoding.UTF8.Preamble.ToArray() : [], .. Encoding.UTF8.GetBytes(text)];

    [Fact]
    public async Task A_utf8_csv_with_chinese_headers_quoted_cells_and_empty_lines_is_stored_and_audited()
    {
        var unit = await app.OrgUnitAsync();
        using var client = await app.ClientWithAsync(["events:write"]);
        var csv = $"指标,日期,数量,填报单位,dim.kind,备注\r\n"
            + $"联动处置网站侵权、网络诈骗等问题线索,2024-03-05,4,{unit},fraud,\"诈骗, 第一批\"\r\n"
            + "\r\n"
            + $"notices.issued,2024/3/6,2,{unit},,\"他说 \"\"好\"\"\nsecond line\"\r\n"
            + $"下发问题提示单,2024-03-07,1,{unit},,\r\n";

        var import = await ImportAsync(client, Utf8(csv), "name=first-utf8");

        Assert.Equal("succeeded", import["status"]!.GetValue<string>());
        Assert.Equal(3, import["rows"]!.GetValue<int>());
        Assert.Equal(3, import["processed"]!.GetValue<int>());
        AssertSummary(import, created: 3);
        Assert.Empty(import["errors"]!.AsArray());
        var stored = Stored(unit);
        Assert.Equal(
        [
            ("leads.handled", "2024-03-05", 4L, RowId("first-utf8", "leads.handled", "2024-03-05", unit, """{"kind":"fraud"}"""),
                "诈骗, 第一批", """{"kind":"fraud"}"""),
            ("notices.issued", "2024-03-06", 2L, RowId("first-utf8", "notices.issued", "2024-03-06", unit, "{}"),
                "他说 \"好\"\nsecond line", "{}"),
            ("notices.issued", "2024-03-07", 1L, RowId("first-utf8", "notices.issued", "2024-03-07", unit, "{}"), null, "{}"),
        ], stored.OrderBy(e => e.OccurredOn, StringComparer.Ordinal));
        using var db = app.OpenDatabase();
        // The import is one write command: one events.created entry records its three events.
        Assert.Equal(3, db.ExecuteScalar<int>(
            $"""
            SELECT {TestStore.JsonText(db, "data", "events")} FROM audit_log
            WHERE action = 'events.created' AND seq IN (SELECT audit_seq FROM events WHERE org_unit = @unit)
            """, new { unit }));
        Assert.Equal(1, db.ExecuteScalar<int>("SELECT count(DISTINCT audit_seq) FROM events WHERE org_unit = @unit", new { unit }));
        Assert.Equal(7, db.ExecuteScalar<long>("SELECT sum(value) FROM daily_rollups WHERE org_unit = @unit", new { unit }));
    }

    [Fact]
    public async Task Utf8_with_bom_and_gb18030_csv_files_read_the_same()
    {
        var unit = await app.OrgUnitAsync();
        using var client = await app.ClientWithAsync(["events:write"]);
        var csv = $"指标,日期,数量,填报单位,外部编号,备注\r\n约谈自媒体账号,2024-05-01,3,{unit},acct-1,河东区\r\n";

        var withBom = await ImportAsync(client, Utf8(csv, bom: true), "name=bom");
        var gb18030 = await ImportAsync(client, ImportFiles.Gb18030.GetBytes(csv.Replace("acct-1", "acct-2")), "name=gb");

        Assert.Equal("succeeded", withBom["status"]!.GetValue<string>());
        Assert.Equal("succeeded", gb18030["status"]!.GetValue<string>());
        Assert.Equal(
        [
            ("accounts.interviewed", "2024-05-01", 3L, "acct-1", "河东区", "{}"),
            ("accounts.interviewed", "2024-05-01", 3L, "acct-2", "河东区", "{}"),
        ], Stored(unit));
    }

    [Fact]
    public async Task An_xlsx_with_chinese_headers_and_metric_names_is_imported_from_the_named_sheet()
    {
        var unit = await app.OrgUnitAsync();
        using var client = await app.ClientWithAsync(["events:write"]);
        var rows = new[]
        {
            new Dictionary<string, object?> { ["指标"] = "清理涉黄涉赌网站", ["日期"] = new DateTime(2024, 6, 1), ["数量"] = 5, ["填报单位"] = unit, ["dim.category"] = "gambling", ["外部编号"] = "x-1" },
            new Dictionary<string, object?> { ["指标"] = "推动注销违规网站", ["日期"] = "2024-06-02", ["数量"] = 2, ["填报单位"] = unit, ["dim.category"] = null, ["外部编号"] = "x-2" },
        };
        using var stream = new MemoryStream();
        stream.SaveAs(new Dictionary<string, object> { ["说明"] = new[] { new { a = "ignore me" } }, ["数据"] = rows });

        var import = await ImportAsync(client, stream.ToArray(), "sheet=" + Uri.EscapeDataString("数据"), ImportFiles.XlsxType);

        Assert.Equal("succeeded", import["status"]!.GetValue<string>());
        AssertSummary(import, created: 2);
        Assert.Equal(
        [
            ("websites.cleaned", "2024-06-01", 5L, "x-1", null, """{"category":"gambling"}"""),
            ("websites.deregistered", "2024-06-02", 2L, "x-2", null, "{}"),
        ], Stored(unit));
    }

    /// <summary>A workbook written by hand: inline strings, and only the rows given (a missing row number is a gap).</summary>
    private static byte[] Workbook(string sheetName, params (int Row, string[] Cells)[] rows)
    {
        using var stream = new MemoryStream();
        using (var zip = new System.IO.Compression.ZipArchive(stream, System.IO.Compression.ZipArchiveMode.Create, leaveOpen: true))
        {
            void Part(string name, string xml)
            {
                using var writer = new StreamWriter(zip.CreateEntry(name).Open(), new UTF8Encoding(false));
                writer.Write(xml);
            }
            const string main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
            const string rels = "http://schemas.openxmlformats.org/package/2006/relationships";
            Part("[Content_Types].xml", """<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>""");
            Part("_rels/.rels", $"""<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{rels}"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>""");
            Part("xl/workbook.xml", $"""<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{main}" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="{sheetName}" sheetId="1" r:id="rId1"/></sheets></workbook>""");
            Part("xl/_rels/workbook.xml.rels", $"""<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{rels}"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>""");
            var sheet = new StringBuilder($"""<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{main}"><sheetData>""");
            foreach (var (row, cells) in rows)
            {
                sheet.Append(CultureInfo.InvariantCulture, $"<row r=\"{row}\">");
                for (var i = 0; i < cells.Length; i++)
                    sheet.Append(CultureInfo.InvariantCulture, $"<c r=\"{(char)('A' + i)}{row}\" t=\"inlineStr\"><is><t>{cells[i]}</t></is></c>");
                sheet.Append("</row>");
            }
            Part("xl/worksheets/sheet1.xml", sheet.Append("</sheetData></worksheet>").ToString());
        }
        return stream.ToArray();
    }

    [Fact]
    public async Task Xlsx_rows_keep_their_sheet_numbers_across_missing_rows_and_an_unknown_sheet_fails_the_import()
    {
        var unit = await app.OrgUnitAsync();
        using var client = await app.ClientWithAsync(["events:write"]);
        var workbook = Workbook("表一",
            (1, ["指标", "日期", "数量", "填报单位", "外部编号"]),
            (2, ["notices.issued", "2024-07-01", "3", unit, $"{unit}-w1"]),
            (5, ["notices.issued", "2024-07-02", "many", unit, $"{unit}-w2"]));

        var refused = await ImportAsync(client, workbook, "", ImportFiles.XlsxType);
        var noSheet = await ImportAsync(client, workbook, "sheet=" + Uri.EscapeDataString("表二"), ImportFiles.XlsxType);
        var fixedFile = Workbook("表一",
            (1, ["指标", "日期", "数量", "填报单位", "外部编号"]),
            (2, ["notices.issued", "2024-07-01", "3", unit, $"{unit}-w1"]),
            (5, ["notices.issued", "2024-07-02", "4", unit, $"{unit}-w2"]));
        var stored = await ImportAsync(client, fixedFile, "sheet=" + Uri.EscapeDataString("表一"), ImportFiles.XlsxType);

        Assert.Equal("failed", refused["status"]!.GetValue<string>());
        Assert.Equal([(5, "数量")], Errors(refused).Select(e => (e.Item1, e.Item2)));
        Assert.Equal("failed", noSheet["status"]!.GetValue<string>());
        Assert.Contains("no sheet named '表二'", noSheet["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("succeeded", stored["status"]!.GetValue<string>());
        AssertSummary(stored, created: 2);
        Assert.Equal([3L, 4L], Stored(unit).Select(e => e.Quantity));
    }

    [Fact]
    public async Task An_invalid_row_fails_the_import_with_its_row_and_column_and_stores_nothing()
    {
        var unit = await app.OrgUnitAsync();
        using var client = await app.ClientWithAsync(["events:write"]);
        var csv = $"metric,occurredOn,quantity,orgUnit\nnotices.issued,2024-01-02,1,{unit}\n\nnotices.issued,2024-01-03,five,{unit}\n"
            + $"no.such.metric,2024-01-04,1,{unit}\n";

        var import = await ImportAsync(client, Utf8(csv), "name=bad");

        Assert.Equal("failed", import["status"]!.GetValue<string>());
        AssertSummary(import, created: 0, invalid: 2);
        var errors = import["errors"]!.AsArray().Select(e => (e!["row"]!.GetValue<int>(), e["field"]!.GetValue<string>())).ToList();
        Assert.Equal([(4, "quantity"), (5, "metric")], errors);
        Assert.Empty(Stored(unit));
    }

    [Fact]
    public async Task Reimport_is_unchanged_and_upsert_supersedes_exactly_the_changed_rows()
    {
        var unit = await app.OrgUnitAsync();
        using var client = await app.ClientWithAsync(["events:write"]);
        string File(int third) => $"metric,occurredOn,quantity,orgUnit\n"
            + $"notices.issued,2024-02-01,1,{unit}\nnotices.issued,2024-02-02,2,{unit}\nnotices.issued,2024-02-03,{third},{unit}\n";

        AssertSummary(await ImportAsync(client, Utf8(File(3)), "name=monthly"), created: 3);
        AssertSummary(await ImportAsync(client, Utf8(File(3)), "name=monthly"), created: 0, unchanged: 3);
        var refused = await ImportAsync(client, Utf8(File(30)), "name=monthly");
        Assert.Equal("failed", refused["status"]!.GetValue<string>());
        AssertSummary(refused, created: 0, conflicts: 1);
        Assert.Equal(4, refused["errors"]![0]!["row"]!.GetValue<int>());
        var upsert = await ImportAsync(client, Utf8(File(30)), "name=monthly&mode=upsert");

        Assert.Equal("succeeded", upsert["status"]!.GetValue<string>());
        AssertSummary(upsert, created: 0, unchanged: 2, superseded: 1);
        Assert.Equal([1L, 2L, 30L], Stored(unit).OrderBy(e => e.OccurredOn, StringComparer.Ordinal).Select(e => e.Quantity));
        Assert.Equal(4, Stored(unit, activeOnly: false).Count);
    }

    [Fact]
    public async Task A_dry_run_reports_what_would_happen_and_stores_nothing()
    {
        var unit = await app.OrgUnitAsync();
        using var client = await app.ClientWithAsync(["events:write"]);
        var csv = $"metric,occurredOn,quantity,orgUnit,externalId\nnotices.issued,2024-02-01,1,{unit},d-1\nnotices.issued,2024-02-01,1,{unit},d-1\n";
        using var db = app.OpenDatabase();
        var auditBefore = db.ExecuteScalar<long>("SELECT max(seq) FROM audit_log");

        var import = await ImportAsync(client, Utf8(csv), "dryRun=true");

        Assert.Equal("succeeded", import["status"]!.GetValue<string>());
        Assert.True(import["dryRun"]!.GetValue<bool>());
        AssertSummary(import, created: 1, unchanged: 1);
        Assert.Empty(Stored(unit));
        // Nor in any rollup, the as-of ones included.
        foreach (var table in new[] { "monthly_unit_rollups", "asof_unit_month_rollups", "asof_unit_day_rollups", "asof_unit_hour_rollups",
                     "asof_month_rollups", "asof_day_rollups", "asof_hour_rollups" })
            Assert.Equal(0, db.ExecuteScalar<int>($"SELECT count(*) FROM {table} WHERE org_unit = @unit", new { unit }));
        Assert.Equal(0, db.ExecuteScalar<int>(
            """
            SELECT count(*) FROM audit_log WHERE seq > @auditBefore AND action LIKE 'event%'
               AND (data LIKE '%' || @unit || '%' OR seq IN (SELECT audit_seq FROM events WHERE org_unit = @unit))
            """, new { auditBefore, unit }));
    }

    private static (int, int, int, int, int) Summary(JsonNode import)
    {
        var summary = import["summary"]!;
        return (summary["created"]!.GetValue<int>(), summary["unchanged"]!.GetValue<int>(), summary["superseded"]!.GetValue<int>(),
            summary["invalid"]!.GetValue<int>(), summary["conflicts"]!.GetValue<int>());
    }

    private static List<(int, string, string)> Errors(JsonNode import) =>
        import["errors"]!.AsArray().Select(e => (e!["row"]!.GetValue<int>(), e["field"]!.GetValue<string>(),
            e["message"]!.GetValue<string>())).ToList();

    /// <summary>Audit entries of events in the unit: the entries that created them (their auditSeq) and their voids.</summary>
    private long AuditedEvents(string unit)
    {
        using var db = app.OpenDatabase();
        return db.ExecuteScalar<long>(
            """
            SELECT count(*) FROM audit_log
            WHERE seq IN (SELECT audit_seq FROM events WHERE org_unit = @unit)
               OR (entity >= 'event:' AND entity < 'event;' AND substr(entity, 7) IN (SELECT id FROM events WHERE org_unit = @unit))
            """, new { unit });
    }

    [Fact]
    public async Task A_dry_run_upsert_reports_what_the_real_run_then_does_including_repeats_within_the_file()
    {
        var unit = await app.OrgUnitAsync();
        using var client = await app.ClientWithAsync(["events:write"]);
        const string header = "metric,occurredOn,quantity,orgUnit,externalId\n";
        string Row(string id, int quantity) => $"notices.issued,2024-05-0{quantity},{quantity},{unit},{unit}-{id}\n";
        AssertSummary(await ImportAsync(client, Utf8(header + Row("u1", 1) + Row("u2", 2)), ""), created: 2);
        // u1 as stored; u2 changed; u3 new, then changed within the file, then repeated; u4 new and repeated.
        var file = Utf8(header + Row("u1", 1) + Row("u2", 5) + Row("u3", 3) + Row("u3", 4) + Row("u3", 4) + Row("u4", 1)
            + Row("u4", 1));
        var auditBefore = AuditedEvents(unit);

        var dryRun = await ImportAsync(client, file, "mode=upsert&dryRun=true");

        Assert.Equal("succeeded", dryRun["status"]!.GetValue<string>());
        AssertSummary(dryRun, created: 2, unchanged: 3, superseded: 2);
        Assert.Equal(7, dryRun["processed"]!.GetValue<int>());
        Assert.Equal([1L, 2L], Stored(unit).Select(e => e.Quantity));
        Assert.Equal(2, Stored(unit, activeOnly: false).Count);
        Assert.Equal(auditBefore, AuditedEvents(unit));

        var real = await ImportAsync(client, file, "mode=upsert");

        Assert.Equal("succeeded", real["status"]!.GetValue<string>());
        Assert.Equal(Summary(dryRun), Summary(real));
        Assert.Equal([1L, 5L, 4L, 1L], Stored(unit).Select(e => e.Quantity));
        Assert.Equal(2 + 2 + 2, Stored(unit, activeOnly: false).Count);
        using var check = app.OpenDatabase();
        Assert.Equal(Stored(unit).Sum(e => e.Quantity),
            check.ExecuteScalar<long>("SELECT sum(value) FROM daily_rollups WHERE org_unit = @unit", new { unit }));
    }

    [Fact]
    public async Task A_dry_run_finds_the_conflicts_a_real_run_refuses_within_the_file_and_against_stored_events()
    {
        var unit = await app.OrgUnitAsync();
        using var client = await app.ClientWithAsync(["events:write"]);
        const string header = "metric,occurredOn,quantity,orgUnit,externalId\n";
        string Row(string id, int quantity) => $"notices.issued,2024-06-0{quantity},{quantity},{unit},{unit}-{id}\n";
        AssertSummary(await ImportAsync(client, Utf8(header + Row("s1", 1)), ""), created: 1);
        // c1 repeated with the same content, c2 with other content, s1 stored with other content.
        var file = Utf8(header + Row("c1", 1) + Row("c1", 1) + Row("c2", 2) + Row("c2", 3) + Row("s1", 4));

        var dryRun = await ImportAsync(client, file, "dryRun=true");
        var real = await ImportAsync(client, file, "");

        Assert.Equal("failed", dryRun["status"]!.GetValue<string>());
        AssertSummary(dryRun, created: 2, unchanged: 1, conflicts: 2);
        Assert.Equal("failed", real["status"]!.GetValue<string>());
        AssertSummary(real, created: 0, conflicts: 2);
        Assert.Equal(Errors(dryRun), Errors(real));
        Assert.Equal([(5, "externalId"), (6, "externalId")], Errors(real).Select(e => (e.Item1, e.Item2)));
        Assert.Contains("row 4 of this file", Errors(real)[0].Item3, StringComparison.Ordinal);
        Assert.Equal([("notices.issued", "2024-06-01", 1L, $"{unit}-s1", (string?)null, "{}")], Stored(unit));
        // The refused import's rows left every rollup with it, the as-of ones (written as its group commits) too: their
        // hour level holds every change (the day and month levels take it once the hour has closed).
        using var db = app.OpenDatabase();
        foreach (var table in new[] { "monthly_unit_rollups", "asof_unit_hour_rollups", "asof_hour_rollups" })
            Assert.Equal((1L, 1L), db.QuerySingle<(long, long)>($"SELECT sum(value), sum(events) FROM {table} WHERE org_unit = @unit", new { unit }));
    }

    [Fact]
    public async Task A_row_checked_again_after_the_catalog_changed_meets_every_event_rule_and_the_keys_reach()
    {
        var unit = await app.OrgUnitAsync();
        var other = await app.OrgUnitAsync();
        Tally.Api.Ledger.CatalogSnapshot catalog;
        using (var db = app.OpenDatabase())
            catalog = Tally.Api.Ledger.CatalogSnapshot.Load(db);
        var bound = new Tally.Api.Security.ApiKeyRecord("key_recheck", "recheck", "recheck", ["events:write"], unit,
            DateTimeOffset.UtcNow, null, []);
        var mapper = new ImportRowMapper(catalog, TimeProvider.System, bound, null);
        Tally.Api.Ledger.NewEvent Event(string metric, string orgUnit) =>
            new(metric, new DateOnly(2024, 8, 1), 3, orgUnit, null, new SortedDictionary<string, string>(StringComparer.Ordinal),
                "r-1", null);

        Assert.Empty(mapper.Recheck(7, Event("notices.issued", unit)));
        Assert.Equal([(7, "metric")], mapper.Recheck(7, Event("no.such.metric", unit)).Select(e => (e.Row, e.Field)));
        Assert.Equal([(8, "orgUnit")], mapper.Recheck(8, Event("notices.issued", other)).Select(e => (e.Row, e.Field)));
    }

    [Fact]
    public async Task Ndjson_rows_are_numbered_by_line_and_a_row_outside_a_bound_key_is_a_row_error()
    {
        var unit = await app.OrgUnitAsync();
        var other = await app.OrgUnitAsync();
        using var client = await app.ClientWithAsync(["events:write"], orgUnit: unit);
        var ndjson = $$"""
            {"metric":"leads.handled","occurredOn":"2024-03-01","quantity":2,"orgUnit":"{{unit}}","dimensions":{"kind":"fraud"},"externalId":"n-1"}

            {"metric":"leads.handled","occurredOn":"2024-03-01","quantity":2,"orgUnit":"{{other}}","externalId":"n-2"}
            """;

        var refused = await ImportAsync(client, Utf8(ndjson), "", ImportFiles.NdjsonType);
        Assert.Equal("failed", refused["status"]!.GetValue<string>());
        Assert.Equal((3, "orgUnit"), (refused["errors"]![0]!["row"]!.GetValue<int>(), refused["errors"]![0]!["field"]!.GetValue<string>()));
        Assert.Empty(Stored(unit));

        var accepted = await ImportAsync(client, Utf8(ndjson.Split('\n')[0]), "", ImportFiles.NdjsonType);
        Assert.Equal("succeeded", accepted["status"]!.GetValue<string>());
        Assert.Equal([("leads.handled", "2024-03-01", 2L, "n-1", null, """{"kind":"fraud"}""")], Stored(unit));
    }

    [Fact]
    public async Task A_row_without_external_id_needs_a_name()
    {
        var unit = await app.OrgUnitAsync();
        using var client = await app.ClientWithAsync(["events:write"]);

        var import = await ImportAsync(client, Utf8($"metric,occurredOn,quantity,orgUnit\nnotices.issued,2024-02-01,1,{unit}\n"), "");

        Assert.Equal("failed", import["status"]!.GetValue<string>());
        Assert.Equal("externalId", import["errors"]![0]!["field"]!.GetValue<string>());
        Assert.Empty(Stored(unit));
    }

    [Fact]
    public async Task A_100k_row_file_is_stored_whole()
    {
        // Its own app: the import holds the shared writer for as long as it stores, and other tests' writes would wait.
        await using var own = await TallyApp.StartAsync(new Dictionary<string, string?>
        {
            ["Tally:Limits:Imports:PieceRows"] = "20000",
        });
        var unit = await own.OrgUnitAsync();
        using var client = await own.ClientWithAsync(["events:write"]);
        var csv = new StringBuilder("metric,occurredOn,quantity,orgUnit\n");
        for (var i = 0; i < 100_000; i++)
            csv.Append("notices.issued,2024-0").Append(1 + i % 9).Append("-1").Append(i % 10).Append(',').Append(1 + i % 7).Append(',').Append(unit).Append('\n');

        var import = await ImportAsync(client, Utf8(csv.ToString()), "name=big");

        Assert.Equal("succeeded", import["status"]!.GetValue<string>());
        Assert.Equal(100_000, import["rows"]!.GetValue<int>());
        AssertSummary(import, created: 100_000);
        using var db = own.OpenDatabase();
        Assert.Equal(Enumerable.Range(0, 100_000).Sum(i => 1L + i % 7),
            db.ExecuteScalar<long>("SELECT sum(quantity) FROM events WHERE org_unit = @unit", new { unit }));
    }

    [Fact]
    public async Task A_file_that_is_not_what_its_type_says_fails_the_import_with_a_reason_and_a_header_only_file_has_no_rows()
    {
        using var client = await app.ClientWithAsync(["events:write"]);

        var notXlsx = await ImportAsync(client, Utf8("this is not a workbook"), "name=junk", ImportFiles.XlsxType);
        var headerOnly = await ImportAsync(client, Utf8("metric,occurredOn,quantity,orgUnit\n"), "name=empty");
        var unknownColumn = await ImportAsync(client, Utf8("metric,occurredOn,quantity,orgUnit,colour\nnotices.issued,2024-01-01,1,hedong,red\n"), "name=colour");

        Assert.Equal("failed", notXlsx["status"]!.GetValue<string>());
        Assert.Contains("could not be read", notXlsx["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("failed", headerOnly["status"]!.GetValue<string>());
        Assert.Equal(0, headerOnly["rows"]!.GetValue<int>());
        Assert.Equal("failed", unknownColumn["status"]!.GetValue<string>());
        Assert.Equal((1, "colour"), (unknownColumn["errors"]![0]!["row"]!.GetValue<int>(), unknownColumn["errors"]![0]!["field"]!.GetValue<string>()));
    }

    [Fact]
    public async Task A_body_that_is_not_a_known_file_type_is_415_and_a_bad_mode_is_400()
    {
        using var client = await app.ClientWithAsync(["events:write"]);

        await (await PostFileAsync(client, Utf8("x"), "application/pdf", "")).AssertProblemAsync(415, "/problems/unsupported-media-type");
        await (await PostFileAsync(client, Utf8("x"), "text/csv", "mode=merge")).AssertValidationAsync("mode");
        await (await client.GetAsync("/api/v1/imports/imp_nothing", Ct)).AssertProblemAsync(404, "/problems/not-found");
    }
}
