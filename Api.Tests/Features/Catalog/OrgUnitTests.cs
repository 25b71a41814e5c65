using System.Net;
using System.Net.Http.Json;
using Dapper;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Catalog;

public sealed class OrgUnitTests(TallyApp app)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Seeded_units_are_tianjin_and_hedong_below_it()
    {
        using var client = await app.ClientWithAsync(["events:read"]);
        var hedong = await (await client.GetAsync("/api/v1/org-units/hedong", Ct)).ReadJsonAsync();
        Assert.Equal("河东区互联网信息办公室", hedong["name"]!.GetValue<string>());
        Assert.Equal("tianjin", hedong["parent"]!.GetValue<string>());
        var tianjin = await (await client.GetAsync("/api/v1/org-units/tianjin", Ct)).ReadJsonAsync();
        Assert.Equal("天津市", tianjin["name"]!.GetValue<string>());
        Assert.Null(tianjin["parent"]);
    }

    [Fact]
    public async Task Create_under_a_parent_records_the_closure_to_every_ancestor()
    {
        var street = await app.OrgUnitAsync("hedong");
        var office = await app.OrgUnitAsync(street);
        using var admin = app.Admin();
        var read = await (await admin.GetAsync($"/api/v1/org-units/{office}", Ct)).ReadJsonAsync();
        Assert.Equal(street, read["parent"]!.GetValue<string>());

        using var db = app.OpenDatabase();
        var ancestors = db.Query<(string Ancestor, long Depth)>(
            "SELECT ancestor, depth FROM org_unit_closure WHERE descendant = @office ORDER BY depth", new { office }).ToList();
        Assert.Equal([(office, 0L), (street, 1L), ("hedong", 2L), ("tianjin", 3L)], ancestors);
    }

    [Fact]
    public async Task Unknown_parent_and_malformed_code_are_400()
    {
        using var admin = app.Admin();
        await (await admin.PostAsJsonAsync("/api/v1/org-units", new { code = Unique.Code("u"), name = "x", parent = "nowhere" }, Ct))
            .AssertValidationAsync("parent");
        await (await admin.PostAsJsonAsync("/api/v1/org-units", new { code = "UPPER", name = "x" }, Ct))
            .AssertValidationAsync("code");
        await (await admin.PostAsJsonAsync("/api/v1/org-units", new { code = "hedong", name = "again" }, Ct))
            .AssertProblemAsync(409, "/problems/conflict");
    }

    [Fact]
    public async Task A_parent_that_would_make_a_cycle_is_400_and_changes_nothing()
    {
        var top = await app.OrgUnitAsync("hedong");
        var child = await app.OrgUnitAsync(top);
        var grandchild = await app.OrgUnitAsync(child);
        using var admin = app.Admin();

        await (await admin.PutAsJsonAsync($"/api/v1/org-units/{top}", new { name = "x", parent = grandchild }, Ct))
            .AssertValidationAsync("parent");
        await (await admin.PutAsJsonAsync($"/api/v1/org-units/{top}", new { name = "x", parent = top }, Ct))
            .AssertValidationAsync("parent");

        var read = await (await admin.GetAsync($"/api/v1/org-units/{top}", Ct)).ReadJsonAsync();
        Assert.Equal("hedong", read["parent"]!.GetValue<string>());
    }

    [Fact]
    public async Task Moving_a_unit_rebuilds_the_closure_of_its_subtree()
    {
        var a = await app.OrgUnitAsync("hedong");
        var b = await app.OrgUnitAsync("tianjin");
        var leaf = await app.OrgUnitAsync(a);
        using var admin = app.Admin();

        var moved = await admin.PutAsJsonAsync($"/api/v1/org-units/{a}", new { name = "搬迁", parent = b }, Ct);
        Assert.Equal(HttpStatusCode.OK, moved.StatusCode);
        Assert.Equal("搬迁", (await moved.ReadJsonAsync())["name"]!.GetValue<string>());

        using var db = app.OpenDatabase();
        var ancestors = db.Query<string>("SELECT ancestor FROM org_unit_closure WHERE descendant = @leaf ORDER BY depth", new { leaf });
        Assert.Equal([leaf, a, b, "tianjin"], ancestors);
    }

    [Fact]
    public async Task Put_body_may_not_carry_a_code()
    {
        var unit = await app.OrgUnitAsync();
        using var admin = app.Admin();
        await (await admin.PutJsonAsync($"/api/v1/org-units/{unit}", """{"code":"other","name":"x","parent":"hedong"}"""))
            .AssertValidationAsync("code");
    }
}
