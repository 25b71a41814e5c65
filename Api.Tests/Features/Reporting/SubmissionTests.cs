using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Dapper;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Reporting;

public sealed class SubmissionTests(TallyApp app)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static object Event(string orgUnit, string day, string metric = "notices.issued", long quantity = 2) =>
        new { metric, occurredOn = day, quantity, orgUnit };

    [Fact]
    public async Task A_submitted_period_refuses_every_write_kind_into_the_units_plan_metrics()
    {
        var district = await app.OrgUnitAsync();
        var (unit, sibling) = (await app.OrgUnitAsync(district), await app.OrgUnitAsync(district));
        var plan = await app.PlanAsync(["notices.issued"], [unit, sibling]);
        using var writer = await app.ClientWithAsync(["events:write", "events:read"], orgUnit: unit);
        var frozen = await writer.RecordAsync("notices.issued", "2025-02-01", 4, unit);
        Assert.Equal(HttpStatusCode.Created, (await writer.PutAsJsonAsync("/api/v1/events/external/running",
            Event(unit, "2025-03-01"), Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await writer.PutAsJsonAsync("/api/v1/events/external/april",
            Event(unit, "2025-04-01"), Ct)).StatusCode);

        var submission = await writer.SubmittedAsync(plan, "2025-Q1", unit);
        Assert.Equal("submitted", submission["state"]!.GetValue<string>());
        Assert.StartsWith("sub_", submission["id"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.NotNull(submission["submittedAt"]);

        // create, batch item, upsert (new, rewriting a frozen event, moving an open event into the period), void, import.
        await (await writer.PostAsJsonAsync("/api/v1/events", Event(unit, "2025-03-15"), Ct)).AssertProblemAsync(409, "/problems/period-submitted");
        await (await writer.PostAsJsonAsync("/api/v1/events/batch", new { events = new[] { Event(unit, "2025-04-02"), Event(unit, "2025-01-31") } }, Ct))
            .AssertProblemAsync(409, "/problems/period-submitted");
        await (await writer.PutAsJsonAsync("/api/v1/events/external/new-one", Event(unit, "2025-01-10"), Ct))
            .AssertProblemAsync(409, "/problems/period-submitted");
        await (await writer.PutAsJsonAsync("/api/v1/events/external/running", Event(unit, "2025-05-01", quantity: 9), Ct))
            .AssertProblemAsync(409, "/problems/period-submitted");
        await (await writer.PutAsJsonAsync("/api/v1/events/external/april", Event(unit, "2025-03-02", quantity: 9), Ct))
            .AssertProblemAsync(409, "/problems/period-submitted");
        var voided = await writer.PostAsJsonAsync($"/api/v1/events/{frozen}/void", new { reason = "改数" }, Ct);
        var problem = await voided.AssertProblemAsync(409, "/problems/period-submitted");
        Assert.Contains(plan, problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        var import = await ImportAsync(writer, $"metric,occurredOn,quantity,orgUnit\nnotices.issued,2025-02-20,5,{unit}\n");
        Assert.Equal("failed", import["status"]!.GetValue<string>());
        Assert.Contains("2025-Q1", import.ToJsonString(), StringComparison.Ordinal);

        using (var db = app.OpenDatabase())
        {
            Assert.Equal(2, db.ExecuteScalar<long>(
                "SELECT count(*) FROM events WHERE org_unit = @unit AND voided_at IS NULL AND occurred_on < '2025-04-01'", new { unit }));
            Assert.Equal(1, db.ExecuteScalar<long>("SELECT count(*) FROM events WHERE org_unit = @unit AND occurred_on >= '2025-04-01'", new { unit }));
        }

        // What the submission does not cover stays open: another metric, another quarter, a sibling unit.
        await writer.RecordAsync("accounts.interviewed", "2025-03-15", 1, unit);
        await writer.RecordAsync("notices.issued", "2025-04-15", 1, unit);
        using var siblingWriter = await app.ClientWithAsync(["events:write"], orgUnit: sibling);
        await siblingWriter.RecordAsync("notices.issued", "2025-03-15", 1, sibling);
    }

    [Fact]
    public async Task Only_a_key_of_a_strict_ancestor_with_reports_approve_approves_or_returns()
    {
        var district = await app.OrgUnitAsync();
        var (unit, sibling) = (await app.OrgUnitAsync(district), await app.OrgUnitAsync(district));
        var plan = await app.PlanAsync(["notices.issued"], [unit, sibling]);
        using var unitWriter = await app.ClientWithAsync(["events:write"], orgUnit: unit);
        using var siblingWriter = await app.ClientWithAsync(["events:write"], orgUnit: sibling);
        using var districtApprover = await app.ClientWithAsync(["reports:approve", "totals:read"], orgUnit: district);
        using var unitApprover = await app.ClientWithAsync(["reports:approve"], orgUnit: unit);
        using var siblingApprover = await app.ClientWithAsync(["reports:approve"], orgUnit: sibling);
        using var writerOnly = await app.ClientWithAsync(["events:write"], orgUnit: district);

        await (await siblingWriter.SubmitAsync(plan, "2025-Q1", unit)).AssertProblemAsync(403, "/problems/forbidden");
        var id = (await unitWriter.SubmittedAsync(plan, "2025-Q1", unit))["id"]!.GetValue<string>();
        await (await unitWriter.SubmitAsync(plan, "2025-Q1", unit)).AssertProblemAsync(409, "/problems/conflict");

        await (await unitApprover.ApproveAsync(id)).AssertProblemAsync(403, "/problems/forbidden");
        await (await siblingApprover.ApproveAsync(id)).AssertProblemAsync(403, "/problems/forbidden");
        await (await writerOnly.ApproveAsync(id)).AssertProblemAsync(403, "/problems/forbidden");
        await (await districtApprover.ApproveAsync("sub_nothing")).AssertProblemAsync(403, "/problems/forbidden");
        using (var unboundApprover = await app.ClientWithAsync(["reports:approve"]))
            await (await unboundApprover.ApproveAsync("sub_nothing")).AssertProblemAsync(404, "/problems/not-found");
        await (await districtApprover.PostAsJsonAsync($"/api/v1/reporting/submissions/{id}/return", new { }, Ct))
            .AssertProblemAsync(400, "/problems/validation");

        var returned = await districtApprover.ReturnAsync(id, "宣传活动次数与台账不符，请核实");
        Assert.Equal(HttpStatusCode.OK, returned.StatusCode);
        var returnedBody = await returned.ReadJsonAsync();
        Assert.Equal("returned", returnedBody["state"]!.GetValue<string>());
        Assert.Equal("宣传活动次数与台账不符，请核实", returnedBody["returnReason"]!.GetValue<string>());
        await (await districtApprover.ApproveAsync(id)).AssertProblemAsync(409, "/problems/conflict");
        var status = await districtApprover.StatusAsync(plan, "2025-Q1");
        Assert.Equal("returned", status.Unit(unit)["state"]!.GetValue<string>());
        Assert.Equal("宣传活动次数与台账不符，请核实", status.Unit(unit)["returnReason"]!.GetValue<string>());

        // Returned: open for writes again, and submitted again as a new submission.
        await unitWriter.RecordAsync("notices.issued", "2025-03-20", 6, unit);
        var again = (await unitWriter.SubmittedAsync(plan, "2025-Q1", unit))["id"]!.GetValue<string>();
        Assert.NotEqual(id, again);
        var approved = await districtApprover.ApproveAsync(again);
        Assert.Equal(HttpStatusCode.OK, approved.StatusCode);
        var approvedBody = await approved.ReadJsonAsync();
        Assert.Equal("approved", approvedBody["state"]!.GetValue<string>());
        Assert.NotNull(approvedBody["approvedAt"]);
        await (await districtApprover.ReturnAsync(again, "太迟了")).AssertProblemAsync(409, "/problems/conflict");
        await (await unitWriter.SubmitAsync(plan, "2025-Q1", unit)).AssertProblemAsync(409, "/problems/conflict");
        await (await unitWriter.PostAsJsonAsync("/api/v1/events", Event(unit, "2025-03-21"), Ct))
            .AssertProblemAsync(409, "/problems/period-submitted");

        var after = await districtApprover.StatusAsync(plan, "2025-Q1");
        Assert.Equal("approved", after.Unit(unit)["state"]!.GetValue<string>());
        Assert.Equal(again, after.Unit(unit)["submissionId"]!.GetValue<string>());
        Assert.NotNull(after.Unit(unit)["approvedAt"]);
        Assert.Equal(1, after["summary"]!["approved"]!.GetValue<int>());
        Assert.Equal(1, after["summary"]!["submitted"]!.GetValue<int>());

        var listed = await districtApprover.GetJsonAsync($"/api/v1/reporting/submissions?plan={plan}&period=2025-Q1&orgUnit={unit}");
        Assert.Equal(["returned", "approved"], listed["items"]!.AsArray().Select(s => s!["state"]!.GetValue<string>()));

        using var admin = app.Admin();
        var firstAudit = await admin.GetJsonAsync($"/api/v1/audit?entity=reporting-submission:{id}");
        Assert.Equal(["reporting.submitted", "reporting.returned"], firstAudit["items"]!.AsArray().Select(e => e!["action"]!.GetValue<string>()));
        var secondAudit = await admin.GetJsonAsync($"/api/v1/audit?entity=reporting-submission:{again}");
        Assert.Equal(["reporting.submitted", "reporting.approved"], secondAudit["items"]!.AsArray().Select(e => e!["action"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Submit_refuses_a_unit_that_is_not_a_reporter_a_period_not_begun_and_an_unknown_plan()
    {
        var (unit, other) = (await app.OrgUnitAsync(), await app.OrgUnitAsync());
        var plan = await app.PlanAsync(["notices.issued"], [unit]);
        using var admin = app.Admin();

        var notReporter = await (await admin.SubmitAsync(plan, "2025-Q1", other)).AssertProblemAsync(400, "/problems/validation");
        Assert.NotNull(notReporter["errors"]!["orgUnit"]);
        var future = await (await admin.SubmitAsync(plan, $"{DateTime.UtcNow.Year + 1}-Q1", unit)).AssertProblemAsync(400, "/problems/validation");
        Assert.NotNull(future["errors"]!["period"]);
        await (await admin.SubmitAsync("no-such-plan", "2025-Q1", unit)).AssertProblemAsync(404, "/problems/not-found");
        await (await admin.SubmitAsync(plan, "2025-Q1", "no-such-unit")).AssertProblemAsync(400, "/problems/validation");
    }

    private static Task<JsonNode> ImportAsync(HttpClient client, string csv) =>
        Imports.ImportTests.ImportAsync(client, Encoding.UTF8.GetBytes(csv), "name=" + Unique.Code("imp"));
}
