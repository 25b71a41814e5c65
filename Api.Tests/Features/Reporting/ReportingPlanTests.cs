using System.Net;
using System.Net.Http.Json;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Reporting;

public sealed class ReportingPlanTests(TallyApp app)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Plan_is_created_read_replaced_listed_and_audited()
    {
        var street = await app.OrgUnitAsync();
        var code = await app.PlanAsync(["notices.issued", "accounts.interviewed"], [street], dueDays: 10);
        using var admin = app.Admin();

        var plan = await admin.GetJsonAsync($"/api/v1/reporting/plans/{code}");
        Assert.Equal("quarter", plan["frequency"]!.GetValue<string>());
        Assert.Equal(["notices.issued", "accounts.interviewed"], plan["metrics"]!.AsArray().Select(m => m!.GetValue<string>()));
        Assert.Equal([street], plan["reporters"]!.AsArray().Select(m => m!.GetValue<string>()));
        Assert.Equal(10, plan["dueDays"]!.GetValue<int>());
        Assert.Equal("2025-01-01", plan["startsOn"]!.GetValue<string>());
        Assert.Null(plan["endsOn"]);

        var replaced = await admin.PutAsJsonAsync($"/api/v1/reporting/plans/{code}", new
        {
            name = "季度报送", metrics = new[] { "notices.issued" }, frequency = "month", reporters = new[] { street }, dueDays = 5,
            startsOn = "2025-01-01", endsOn = "2025-12-31",
        }, Ct);
        Assert.Equal(HttpStatusCode.OK, replaced.StatusCode);
        var read = await admin.GetJsonAsync($"/api/v1/reporting/plans/{code}");
        Assert.Equal("季度报送", read["name"]!.GetValue<string>());
        Assert.Equal("month", read["frequency"]!.GetValue<string>());
        Assert.Equal("2025-12-31", read["endsOn"]!.GetValue<string>());

        var listed = await admin.GetJsonAsync("/api/v1/reporting/plans?limit=1000");
        Assert.Contains(listed["items"]!.AsArray(), p => p!["code"]!.GetValue<string>() == code);

        var audit = await admin.GetJsonAsync($"/api/v1/audit?entity=reporting-plan:{code}");
        Assert.Equal(["reporting-plan.created", "reporting-plan.updated"],
            audit["items"]!.AsArray().Select(e => e!["action"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Plan_refuses_an_existing_code_unknown_names_and_bad_fields()
    {
        var street = await app.OrgUnitAsync();
        var code = await app.PlanAsync(["notices.issued"], [street]);
        using var admin = app.Admin();

        var again = await admin.PostAsJsonAsync("/api/v1/reporting/plans", new
        {
            code, name = "重复", metrics = new[] { "notices.issued" }, frequency = "quarter", reporters = new[] { street },
            dueDays = 10, startsOn = "2025-01-01",
        }, Ct);
        await again.AssertProblemAsync(409, "/problems/conflict");

        var bad = await admin.PostAsJsonAsync("/api/v1/reporting/plans", new
        {
            code = Unique.Code("plan"), name = "坏计划", metrics = new[] { "no.such.metric", "notices.issued", "notices.issued" },
            frequency = "weekly", reporters = new[] { "no-such-unit" }, dueDays = -1, startsOn = "2025-03-01", endsOn = "2025-01-01",
        }, Ct);
        var problem = await bad.AssertProblemAsync(400, "/problems/validation");
        var errors = problem["errors"]!.AsObject().Select(e => e.Key).ToHashSet();
        Assert.Superset(new HashSet<string> { "metrics[0]", "metrics[2]", "frequency", "reporters[0]", "dueDays", "endsOn" }, errors);

        var missing = await admin.PutAsJsonAsync($"/api/v1/reporting/plans/{Unique.Code("plan")}", new
        {
            name = "无", metrics = new[] { "notices.issued" }, frequency = "quarter", reporters = new[] { street }, dueDays = 1,
            startsOn = "2025-01-01",
        }, Ct);
        await missing.AssertProblemAsync(404, "/problems/not-found");
        await (await admin.GetAsync($"/api/v1/reporting/plans/{Unique.Code("plan")}", Ct)).AssertProblemAsync(404, "/problems/not-found");
    }

    [Fact]
    public async Task A_bound_admin_cannot_set_plans()
    {
        var street = await app.OrgUnitAsync();
        using var bound = await app.ClientWithAsync(["admin"], orgUnit: street);
        var response = await bound.PostAsJsonAsync("/api/v1/reporting/plans", new
        {
            code = Unique.Code("plan"), name = "越权", metrics = new[] { "notices.issued" }, frequency = "quarter",
            reporters = new[] { street }, dueDays = 10, startsOn = "2025-01-01",
        }, Ct);
        await response.AssertProblemAsync(403, "/problems/forbidden");
    }
}
