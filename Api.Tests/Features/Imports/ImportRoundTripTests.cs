using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Dapper;
using MiniExcelLibs;
using Tally.Api.Features.Imports;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Imports;

/// <summary>
/// The spreadsheets an office really keeps: a sheet imported, edited (a few quantities changed, a row inserted at the
/// top, rows moved) and imported again; and Tally's own headers=zh export edited and imported back. Exactly the edited
/// rows change.
/// </summary>
public sealed class ImportRoundTripTests(TallyApp app)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Posts the file, expects 202, then polls the import until it ends (the import tests' one helper).</summary>
    private static Task<JsonNode> ImportAsync(HttpClient client, byte[] file, string query, string contentType = "text/csv") =>
        ImportTests.ImportAsync(client, file, query, contentType);

    private static void AssertSucceeded(JsonNode import, int created = 0, int unchanged = 0, int superseded = 0, int conflicts = 0)
    {
        Assert.True(import["status"]!.GetValue<string>() == "succeeded", import.ToJsonString());
        var summary = import["summary"]!;
        Assert.Equal([created, unchanged, superseded, 0, conflicts],
            (int[])[summary["created"]!.GetValue<int>(), summary["unchanged"]!.GetValue<int>(),
                summary["superseded"]!.GetValue<int>(), summary["invalid"]!.GetValue<int>(), summary["conflicts"]!.GetValue<int>()]);
    }

    /// <summary>The unit's events as (metric, day, quantity, dimensions), active ones only or all, in a fixed order.</summary>
    private List<(string Metric, string Day, long Quantity, string Dimensions)> Stored(string unit, bool activeOnly = true)
    {
        using var db = app.OpenDatabase();
        return db.Query<(string, string, long, string)>(
            $"""
            SELECT metric, occurred_on, quantity, dimensions FROM events
            WHERE org_unit = @unit {(activeOnly ? "AND voided_at IS NULL" : "")}
            ORDER BY metric, occurred_on, quantity, dimensions
            """, new { unit }).ToList();
    }

    private int StoredCount(string unit)
    {
        using var db = app.OpenDatabase();
        return db.ExecuteScalar<int>("SELECT count(*) FROM events WHERE org_unit = @unit", new { unit });
    }

    /// <summary>The office's own sheet: a 序号 column, metrics and values by name or code, no 外部编号; rows 1 and 2 are the same row.</summary>
    private static List<string[]> OwnSheet(string unit) =>
    [
        ["序号", "指标", "日期", "数量", "填报单位", "dim.venue", "dim.category"],
        ["1", "网络举报主题宣传活动", "2024-03-01", "3", unit, "社区", ""],
        ["2", "outreach.sessions", "2024-03-01", "3", unit, "community", ""],
        ["3", "清理涉黄涉赌网站", "2024-03-02", "5", unit, "", "涉赌"],
        ["4", "websites.cleaned", "2024-03-02", "2", unit, "", "pornography"],
        ["5", "notices.issued", "2024-03-03", "1", unit, "", ""],
    ];

    private static byte[] Csv(IEnumerable<string[]> rows) =>
        Encoding.UTF8.GetBytes(string.Join("\r\n", rows.Select(r => string.Join(',', r))) + "\r\n");

    private static readonly List<(string, string, long, string)> Original =
    [
        ("notices.issued", "2024-03-03", 1, "{}"),
        ("outreach.sessions", "2024-03-01", 3, """{"venue":"community"}"""),
        ("outreach.sessions", "2024-03-01", 3, """{"venue":"community"}"""),
        ("websites.cleaned", "2024-03-02", 2, """{"category":"pornography"}"""),
        ("websites.cleaned", "2024-03-02", 5, """{"category":"gambling"}"""),
    ];

    [Fact]
    public async Task An_edited_sheet_with_a_row_inserted_at_the_top_changes_exactly_the_edited_and_inserted_rows()
    {
        var unit = await app.OrgUnitAsync();
        var name = Unique.Code("sheet");
        using var client = await app.ClientWithAsync(["events:write"]);
        AssertSucceeded(await ImportAsync(client, Csv(OwnSheet(unit)), $"name={name}"), created: 5);
        Assert.Equal(Original, Stored(unit));

        // A row inserted at the top (the 序号 column renumbered), two quantities edited.
        var edited = OwnSheet(unit);
        edited.Insert(1, ["1", "推动注销违规网站", "2024-03-04", "9", unit, "", ""]);
        for (var i = 2; i < edited.Count; i++)
            edited[i][0] = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
        edited[4][3] = "6";  // 清理涉黄涉赌网站 涉赌: 5 -> 6
        edited[6][3] = "4";  // notices.issued: 1 -> 4

        // In create mode the edited rows are conflicts, and nothing is stored.
        var refused = await ImportAsync(client, Csv(edited), $"name={name}");
        Assert.Equal("failed", refused["status"]!.GetValue<string>());
        Assert.Equal(2, refused["summary"]!["conflicts"]!.GetValue<int>());
        Assert.Equal(Original, Stored(unit));

        AssertSucceeded(await ImportAsync(client, Csv(edited), $"name={name}&mode=upsert"), created: 1, unchanged: 3, superseded: 2);
        List<(string, string, long, string)> expected =
        [
            ("notices.issued", "2024-03-03", 4, "{}"),
            ("outreach.sessions", "2024-03-01", 3, """{"venue":"community"}"""),
            ("outreach.sessions", "2024-03-01", 3, """{"venue":"community"}"""),
            ("websites.cleaned", "2024-03-02", 2, """{"category":"pornography"}"""),
            ("websites.cleaned", "2024-03-02", 6, """{"category":"gambling"}"""),
            ("websites.deregistered", "2024-03-04", 9, "{}"),
        ];
        Assert.Equal(expected, Stored(unit));
        Assert.Equal(8, StoredCount(unit)); // the two superseded events stay, voided

        // The same file again, in create mode: all unchanged. Rows moved (the last to the top, two swapped): unchanged.
        AssertSucceeded(await ImportAsync(client, Csv(edited), $"name={name}"), unchanged: 6);
        var moved = new List<string[]> { edited[0], edited[6], edited[4], edited[3], edited[2], edited[1], edited[5] };
        AssertSucceeded(await ImportAsync(client, Csv(moved), $"name={name}"), unchanged: 6);
        Assert.Equal(expected, Stored(unit));
        Assert.Equal(8, StoredCount(unit));
    }

    [Fact]
    public async Task A_rows_id_is_its_imports_name_a_hash_of_its_identity_and_the_count_of_equal_rows_before_it()
    {
        var unit = await app.OrgUnitAsync();
        var name = Unique.Code("ids");
        using var client = await app.ClientWithAsync(["events:write"]);
        AssertSucceeded(await ImportAsync(client, Csv(OwnSheet(unit)), $"name={name}"), created: 5);
        using var db = app.OpenDatabase();
        var ids = db.Query<string>("SELECT external_id FROM events WHERE org_unit = @unit AND metric = 'outreach.sessions' ORDER BY external_id",
            new { unit }).ToList();
        Assert.Equal(2, ids.Count);
        Assert.All(ids, id => Assert.Matches($"^{System.Text.RegularExpressions.Regex.Escape(name)}:[0-9a-f]{{16}}:[01]$", id));
        Assert.Equal(ids[0][..^1], ids[1][..^1]); // the same identity, counted 0 and 1
        // The identity text hashed (metric, day, unit, campaign, dimensions as codes), as docs/integration-guide.md gives it.
        var text = $"outreach.sessions\n2024-03-01\n{unit}\n\n" + """{"venue":"community"}""";
        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16];
        Assert.Equal($"{name}:{hash}:0", ids[0]);
    }

    [Theory]
    [InlineData("csv")]
    [InlineData("xlsx")]
    public async Task Tallys_own_headers_zh_export_edited_and_reimported_changes_exactly_the_edited_and_inserted_rows(string format)
    {
        var unit = await app.OrgUnitAsync();
        var name = Unique.Code("zh");
        using var client = await app.ClientWithAsync(["events:write", "events:read"]);
        AssertSucceeded(await ImportAsync(client, Csv(OwnSheet(unit)), $"name={name}"), created: 5);

        var exportUrl = $"/api/v1/events/export?orgUnit={unit}&headers=zh&format={format}" + (format == "csv" ? "&bom=true" : "");
        var exported = await client.GetByteArrayAsync(exportUrl, Ct);
        var sheet = format == "csv" ? ReadCsv(exported) : ReadXlsx(exported);
        var header = sheet[0];
        var at = header.Select((h, i) => (h, i)).ToDictionary(p => p.h, p => p.i);
        foreach (var column in (string[])["编号", "指标", "指标名称", "日期", "数量", "单位", "填报单位", "填报单位名称", "专项行动",
                     "专项行动名称", "dim.venue", "场所", "dim.kind", "类型", "dim.category", "类别", "外部编号", "备注", "状态"])
            Assert.True(at.ContainsKey(column), $"no column {column} in {string.Join(",", header)}");
        // Names beside the codes, in the order a person reads them.
        Assert.Equal(at["指标"] + 1, at["指标名称"]);
        Assert.Equal(at["数量"] + 1, at["单位"]);
        Assert.Equal(at["dim.venue"] + 1, at["场所"]);
        var outreach = sheet.Skip(1).First(r => r[at["指标"]] == "outreach.sessions");
        Assert.Equal("网络举报主题宣传活动", outreach[at["指标名称"]]);
        Assert.Equal("次", outreach[at["单位"]]);
        Assert.Equal("community", outreach[at["dim.venue"]]);
        Assert.Equal("社区", outreach[at["场所"]]);
        Assert.Equal("有效", outreach[at["状态"]]);
        Assert.Equal("测试单位 " + unit, outreach[at["填报单位名称"]]);
        var gambling = sheet.Skip(1).First(r => r[at["dim.category"]] == "gambling");
        Assert.Equal("涉赌", gambling[at["类别"]]);

        // The export as it is re-imports unchanged (its 外部编号 are the rows' own ids).
        AssertSucceeded(await ImportAsync(client, Encode(sheet, format), $"name={name}", TypeOf(format)), unchanged: 5);

        // Two quantities edited, a row inserted at the top with only the columns a person fills in.
        var edited = sheet.Select(r => r.ToArray()).ToList();
        foreach (var row in edited.Skip(1).Where(r => r[at["指标"]] == "websites.cleaned"))
            row[at["数量"]] = (long.Parse(row[at["数量"]], System.Globalization.CultureInfo.InvariantCulture) + 10)
                .ToString(System.Globalization.CultureInfo.InvariantCulture);
        var inserted = new string[header.Length];
        Array.Fill(inserted, "");
        (inserted[at["指标"]], inserted[at["日期"]], inserted[at["数量"]], inserted[at["填报单位"]]) =
            ("约谈自媒体账号", "2024-03-05", "2", unit);
        edited.Insert(1, inserted);

        AssertSucceeded(await ImportAsync(client, Encode(edited, format), $"name={name}&mode=upsert", TypeOf(format)),
            created: 1, unchanged: 3, superseded: 2);
        Assert.Equal(
        [
            ("accounts.interviewed", "2024-03-05", 2, "{}"),
            ("notices.issued", "2024-03-03", 1, "{}"),
            ("outreach.sessions", "2024-03-01", 3, """{"venue":"community"}"""),
            ("outreach.sessions", "2024-03-01", 3, """{"venue":"community"}"""),
            ("websites.cleaned", "2024-03-02", 12, """{"category":"pornography"}"""),
            ("websites.cleaned", "2024-03-02", 15, """{"category":"gambling"}"""),
        ], Stored(unit));
        Assert.Equal(8, StoredCount(unit));

        // The edited file again: everything unchanged, in create mode too.
        AssertSucceeded(await ImportAsync(client, Encode(edited, format), $"name={name}", TypeOf(format)), unchanged: 6);
        Assert.Equal(8, StoredCount(unit));
    }

    private static string TypeOf(string format) => format == "csv" ? "text/csv" : ImportFiles.XlsxType;

    private static byte[] Encode(List<string[]> sheet, string format)
    {
        if (format == "csv")
        {
            Assert.All(sheet.SelectMany(r => r), c => Assert.DoesNotContain(',', c));
            return Csv(sheet);
        }
        var header = sheet[0];
        var rows = sheet.Skip(1).Select(r => header.Select((h, i) => (h, i)).ToDictionary(p => p.h,
            p => h(p.h, r[p.i]))).ToList();
        using var stream = new MemoryStream();
        stream.SaveAs(rows);
        return stream.ToArray();

        // Quantities as numbers, as a person typing them gets; the rest as text.
        static object? h(string column, string cell) => cell.Length == 0 ? null
            : column == "数量" ? long.Parse(cell, System.Globalization.CultureInfo.InvariantCulture) : cell;
    }

    /// <summary>A CSV export without quoted cells (none of this test's cells need quoting), BOM taken off.</summary>
    private static List<string[]> ReadCsv(byte[] file)
    {
        var text = Encoding.UTF8.GetString(file);
        Assert.StartsWith("\uFEFF", text, StringComparison.Ordinal);
        Assert.DoesNotContain('"', text);
        return text[1..].Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(',')).ToList();
    }

    private static List<string[]> ReadXlsx(byte[] file)
    {
        using var stream = new MemoryStream(file);
        var rows = stream.Query(useHeaderRow: false).Cast<IDictionary<string, object?>>().ToList();
        return rows.Select(r => r.Values.Select(v => v switch
        {
            null => "",
            double d => d.ToString(System.Globalization.CultureInfo.InvariantCulture),
            _ => Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture) ?? "",
        }).ToArray()).ToList();
    }
}
