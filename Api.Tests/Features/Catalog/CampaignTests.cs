using System.Net;
using System.Net.Http.Json;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Catalog;

public sealed class CampaignTests(TallyApp app)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Create_then_get_and_replace()
    {
        using var admin = app.Admin();
        var code = Unique.Code("qinglang");
        var created = await admin.PostAsJsonAsync("/api/v1/campaigns",
            new { code, name = "清朗·2024", startsOn = "2024-03-01", endsOn = "2024-12-31" }, Ct);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal($"/api/v1/campaigns/{code}", created.Headers.Location?.OriginalString);

        var read = await (await admin.GetAsync($"/api/v1/campaigns/{code}", Ct)).ReadJsonAsync();
        Assert.Equal("清朗·2024", read["name"]!.GetValue<string>());
        Assert.Equal("2024-03-01", read["startsOn"]!.GetValue<string>());

        var replaced = await admin.PutAsJsonAsync($"/api/v1/campaigns/{code}",
            new { name = "清朗·2024 延长", startsOn = "2024-03-01", endsOn = "2025-01-31" }, Ct);
        Assert.Equal(HttpStatusCode.OK, replaced.StatusCode);
        read = await (await admin.GetAsync($"/api/v1/campaigns/{code}", Ct)).ReadJsonAsync();
        Assert.Equal("2025-01-31", read["endsOn"]!.GetValue<string>());
    }

    [Fact]
    public async Task Invalid_campaigns_are_refused()
    {
        using var admin = app.Admin();
        await (await admin.PostAsJsonAsync("/api/v1/campaigns",
            new { code = Unique.Code("c"), name = "x", startsOn = "2024-05-01", endsOn = "2024-04-01" }, Ct)).AssertValidationAsync("endsOn");
        await (await admin.PostJsonAsync("/api/v1/campaigns",
            """{"code":"c-bad-date","name":"x","startsOn":"2024-13-01","endsOn":"2024-12-01"}""")).AssertValidationAsync("startsOn");
        await (await admin.PostAsJsonAsync("/api/v1/campaigns", new { code = Unique.Code("c"), name = "x" }, Ct))
            .AssertValidationAsync("startsOn", "endsOn");
        await (await admin.PutAsJsonAsync("/api/v1/campaigns/none-such",
            new { name = "x", startsOn = "2024-01-01", endsOn = "2024-02-01" }, Ct)).AssertProblemAsync(404, "/problems/not-found");
    }

    [Fact]
    public async Task Creating_an_existing_campaign_is_409()
    {
        using var admin = app.Admin();
        var code = Unique.Code("c");
        var body = new { code, name = "x", startsOn = "2024-01-01", endsOn = "2024-02-01" };
        Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync("/api/v1/campaigns", body, Ct)).StatusCode);
        await (await admin.PostAsJsonAsync("/api/v1/campaigns", body, Ct)).AssertProblemAsync(409, "/problems/conflict");
    }
}
