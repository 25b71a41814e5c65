using System.Net;
using System.Net.Http.Json;
using System.Text;
using Dapper;
using Tally.Api.Ledger;
using Tally.Api.Tests.Features.Imports;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Catalog;

public sealed class OrgUnitShortNameTests(TallyApp app)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string ShortName() => "简称" + Guid.NewGuid().ToString("N")[..12];

    [Fact]
    public async Task Seeded_hedong_has_the_short_name_and_tianjin_none()
    {
        using var client = await app.ClientWithAsync(["events:read"]);
        var hedong = await client.GetJsonAsync("/api/v1/org-units/hedong");
        Assert.Equal("河东区互联网信息办公室", hedong["name"]!.GetValue<string>());
        Assert.Equal("河东区", hedong["shortName"]!.GetValue<string>());
        var tianjin = await (await client.GetAsync("/api/v1/org-units/tianjin", Ct)).ReadJsonAsync();
        Assert.True(tianjin.AsObject().ContainsKey("shortName"));
        Assert.Null(tianjin["shortName"]);

        var list = await client.GetJsonAsync("/api/v1/org-units?limit=1000");
        var listed = list["items"]!.AsArray().Single(u => u!["code"]!.GetValue<string>() == "hedong");
        Assert.Equal("河东区", listed!["shortName"]!.GetValue<string>());
    }

    [Fact]
    public async Task Create_and_update_take_the_short_name_read_it_back_and_audit_it()
    {
        var code = Unique.Code("short");
        var (first, second) = (ShortName(), ShortName());
        using var admin = app.Admin();

        var created = await admin.PostAsJsonAsync("/api/v1/org-units",
            new { code, name = "测试单位 " + code, shortName = first, parent = "hedong" }, Ct);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal(first, (await created.ReadJsonAsync())["shortName"]!.GetValue<string>());
        Assert.Equal(first, (await admin.GetJsonAsync($"/api/v1/org-units/{code}"))["shortName"]!.GetValue<string>());

        var updated = await admin.PutAsJsonAsync($"/api/v1/org-units/{code}",
            new { name = "改名 " + code, shortName = second, parent = "hedong" }, Ct);
        Assert.Equal(HttpStatusCode.OK, updated.StatusCode);
        Assert.Equal(second, (await updated.ReadJsonAsync())["shortName"]!.GetValue<string>());
        Assert.Equal(second, (await admin.GetJsonAsync($"/api/v1/org-units/{code}"))["shortName"]!.GetValue<string>());

        // PUT replaces the unit: a short name left out is cleared.
        var cleared = await admin.PutAsJsonAsync($"/api/v1/org-units/{code}", new { name = "改名 " + code, parent = "hedong" }, Ct);
        Assert.Equal(HttpStatusCode.OK, cleared.StatusCode);
        Assert.Null((await admin.GetJsonAsync($"/api/v1/org-units/{code}"))["shortName"]);

        var audit = await admin.GetJsonAsync($"/api/v1/audit?entity=org-unit:{code}");
        var entries = audit["items"]!.AsArray();
        Assert.Equal(["org-unit.created", "org-unit.updated", "org-unit.updated"],
            entries.Select(e => e!["action"]!.GetValue<string>()));
        Assert.Equal(first, entries[0]!["data"]!["shortName"]!.GetValue<string>());
        Assert.Equal(second, entries[1]!["data"]!["shortName"]!.GetValue<string>());
        Assert.True(entries[2]!["data"]!.AsObject().ContainsKey("shortName"));
        Assert.Null(entries[2]!["data"]!["shortName"]);
    }

    [Theory]
    [InlineData("")]
    [InlineData(" 河东 ")]
    [InlineData("河东\n区")]
    [InlineData("区区区区区区区区区区区区区区区区区区区区区区区区区区区区区区区区区区区区区区区区区区区区区区区区区区区")]
    public async Task A_short_name_empty_too_long_spaced_or_on_two_lines_is_400(string shortName)
    {
        var code = Unique.Code("short");
        using var admin = app.Admin();
        await (await admin.PostAsJsonAsync("/api/v1/org-units", new { code, name = "x", shortName, parent = "hedong" }, Ct))
            .AssertValidationAsync("shortName");
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync($"/api/v1/org-units/{code}", Ct)).StatusCode);

        var unit = await app.OrgUnitAsync();
        await (await admin.PutAsJsonAsync($"/api/v1/org-units/{unit}", new { name = "x", shortName, parent = "hedong" }, Ct))
            .AssertValidationAsync("shortName");
        Assert.Null((await admin.GetJsonAsync($"/api/v1/org-units/{unit}"))["shortName"]);
    }

    [Fact]
    public async Task A_short_name_that_another_unit_is_called_by_is_409_and_changes_nothing()
    {
        var other = await app.OrgUnitAsync();
        var taken = ShortName();
        using var admin = app.Admin();
        Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync($"/api/v1/org-units/{other}",
            new { name = "测试单位 " + other, shortName = taken, parent = "hedong" }, Ct)).StatusCode);

        // Another unit's short name, name and code; and the seeded 河东区.
        foreach (var shortName in new[] { taken, "测试单位 " + other, other, "河东区", "天津市" })
        {
            var code = Unique.Code("short");
            var refused = await (await admin.PostAsJsonAsync("/api/v1/org-units",
                new { code, name = "x", shortName, parent = "hedong" }, Ct)).AssertProblemAsync(409, "/problems/conflict");
            Assert.Contains(shortName, refused["detail"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync($"/api/v1/org-units/{code}", Ct)).StatusCode);
        }

        var unit = await app.OrgUnitAsync();
        await (await admin.PutAsJsonAsync($"/api/v1/org-units/{unit}", new { name = "x", shortName = taken, parent = "hedong" }, Ct))
            .AssertProblemAsync(409, "/problems/conflict");
        var read = await admin.GetJsonAsync($"/api/v1/org-units/{unit}");
        Assert.Null(read["shortName"]);
        Assert.Equal("测试单位 " + unit, read["name"]!.GetValue<string>());

        // A unit keeps its own short name on a PUT, and may be called by its own name.
        Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync($"/api/v1/org-units/{other}",
            new { name = "测试单位 " + other, shortName = taken, parent = "hedong" }, Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync($"/api/v1/org-units/{unit}",
            new { name = "同名 " + unit, shortName = "同名 " + unit, parent = "hedong" }, Ct)).StatusCode);
    }

    [Fact]
    public async Task An_import_row_may_name_its_unit_by_short_name()
    {
        var unit = await app.OrgUnitAsync();
        var shortName = ShortName();
        using var admin = app.Admin();
        Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync($"/api/v1/org-units/{unit}",
            new { name = "测试单位 " + unit, shortName, parent = "hedong" }, Ct)).StatusCode);
        var (hedongId, unitId) = (Unique.Code("hd"), Unique.Code("sn"));

        using var client = await app.ClientWithAsync(["events:write"]);
        var csv = $"指标,日期,数量,填报单位,外部编号\r\n约谈自媒体账号,2024-05-01,3,河东区,{hedongId}\r\n约谈自媒体账号,2024-05-02,4,{shortName},{unitId}\r\n";
        var import = await ImportTests.ImportAsync(client, Encoding.UTF8.GetBytes(csv), "name=" + Uri.EscapeDataString(unitId));
        Assert.Equal("succeeded", import["status"]!.GetValue<string>());

        using var db = app.OpenDatabase();
        Assert.Equal(["hedong"], db.Query<string>("SELECT org_unit FROM events WHERE external_id = @hedongId", new { hedongId }));
        Assert.Equal([unit], db.Query<string>("SELECT org_unit FROM events WHERE external_id = @unitId", new { unitId }));
    }

    [Fact]
    public void Did_you_mean_candidates_include_the_short_name()
    {
        using var db = app.OpenDatabase();
        var hedong = CatalogSnapshot.Load(db).OrgUnitCandidates().Single(c => c.Code == "hedong");
        Assert.Equal(["河东区互联网信息办公室", "河东区"], hedong.Names.ToArray());
    }

    [Fact]
    public async Task The_annual_report_is_titled_with_the_short_name()
    {
        var unit = await app.OrgUnitAsync();
        var shortName = ShortName();
        using var admin = app.Admin();
        Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync($"/api/v1/org-units/{unit}",
            new { name = "测试单位 " + unit, shortName, parent = "hedong" }, Ct)).StatusCode);

        using var reader = await app.ClientWithAsync(["totals:read"]);
        var markdown = await reader.GetStringAsync($"/api/v1/reports/annual/2024?orgUnit={unit}&format=markdown", Ct);
        Assert.Equal($"# {shortName}2024年度工作数据", markdown.Split('\n')[0]);
        var hedong = await reader.GetStringAsync("/api/v1/reports/annual/2024?orgUnit=hedong&format=markdown", Ct);
        Assert.Equal("# 河东区2024年度工作数据", hedong.Split('\n')[0]);
    }
}
