using System.Net;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Keys;

public sealed class GetCurrentKeyTests(TallyApp app)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_viewer_key_learns_its_own_id_scopes_and_org_unit_without_the_secret()
    {
        var unit = await app.OrgUnitAsync("hedong");
        var (id, secret) = await app.CreateKeyAsync(["totals:read", "events:read"], orgUnit: unit);
        using var viewer = app.Client(secret);

        var response = await viewer.GetAsync("/api/v1/me", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.ReadJsonAsync();
        Assert.Equal(id, body["id"]!.GetValue<string>());
        Assert.Equal(unit, body["orgUnit"]!.GetValue<string>());
        Assert.Equal(["events:read", "totals:read"], body["scopes"]!.AsArray().Select(s => s!.GetValue<string>()).Order(StringComparer.Ordinal));
        Assert.Null(body["key"]);
        Assert.DoesNotContain(secret, body.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unbound_key_has_no_org_unit_and_no_key_is_401()
    {
        using var admin = app.Admin();
        var body = await (await admin.GetAsync("/api/v1/me", Ct)).ReadJsonAsync();
        Assert.Null(body["orgUnit"]);
        Assert.Contains("admin", body["scopes"]!.AsArray().Select(s => s!.GetValue<string>()));

        using var anonymous = app.Client(key: null);
        await (await anonymous.GetAsync("/api/v1/me", Ct)).AssertProblemAsync(401, "/problems/unauthorized");
    }
}
