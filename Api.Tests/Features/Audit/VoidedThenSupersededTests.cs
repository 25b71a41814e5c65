using System.Net;
using System.Net.Http.Json;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Audit;

/// <summary>Found by the fuzzer (issue 17): an event voided by hand and then superseded by an upsert broke verification.</summary>
public sealed class VoidedThenSupersededTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Audit_verify_is_valid_after_an_upsert_supersedes_an_event_voided_earlier()
    {
        await using var app = await TallyApp.StartAsync(new Dictionary<string, string?>());
        using var admin = app.Admin();
        var first = await admin.PutAsJsonAsync("/api/v1/events/external/running-count",
            new { metric = "reports.tianjin", occurredOn = "2024-03-05", quantity = 5, orgUnit = "hedong" }, Ct);
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        var firstId = (await first.ReadJsonAsync())["event"]!["id"]!.GetValue<string>();
        var voided = await admin.PostAsJsonAsync($"/api/v1/events/{firstId}/void", new { reason = "entered by mistake" }, Ct);
        Assert.Equal(HttpStatusCode.OK, voided.StatusCode);
        var second = await admin.PutAsJsonAsync("/api/v1/events/external/running-count",
            new { metric = "reports.tianjin", occurredOn = "2024-03-05", quantity = 6, orgUnit = "hedong" }, Ct);
        Assert.Equal("superseded", (await second.ReadJsonAsync())["status"]!.GetValue<string>());

        var old = await admin.GetJsonAsync($"/api/v1/events/{firstId}");
        Assert.Equal("entered by mistake", old["voidReason"]!.GetValue<string>());
        Assert.NotNull(old["supersededBy"]);
        var verify = await admin.GetJsonAsync("/api/v1/audit/verify");
        Assert.True(verify["valid"]!.GetValue<bool>(), verify.ToJsonString());
    }
}
