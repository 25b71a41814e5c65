using System.ComponentModel;
using FastEndpoints;
using FluentValidation;
using Tally.Api.Data;
using Tally.Api.Features.Catalog;
using Tally.Api.Http;
using Tally.Api.Ledger;
using Tally.Api.OpenApi;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api.Features.Reporting;

public sealed class GetReportingStatusRequest
{
    [Description("The plan's code.")]
    public string? Plan { get; set; }

    [Description("The period, as the plan's frequency writes it: 2024, 2024-Q3 or 2024-07.")]
    public string? Period { get; set; }

    [Description("An org unit code: only the plan's reporters in that unit's subtree. Default: the key's own org unit, or every reporter.")]
    public string? OrgUnit { get; set; }
}

public sealed class GetReportingStatusValidator : Validator<GetReportingStatusRequest>
{
    /// <summary>Built once per process by FastEndpoints: its services are the request's (<see cref="RequestServices"/>).</summary>
    public GetReportingStatusValidator()
        : this(RequestServices.Catalog)
    {
    }

    private GetReportingStatusValidator(CatalogCache catalog)
    {
        RuleFor(x => x.Plan).ValidCode();
        RuleFor(x => x.Period).NotEmpty().MaximumLength(10);
        RuleFor(x => x.OrgUnit).Must(o => o is null || catalog.Current.OrgUnits.ContainsKey(o))
            .WithMessage(x => Text.Say($"未知单位 '{Codes.Quote(x.OrgUnit)}'。", $"Unknown org unit '{Codes.Quote(x.OrgUnit)}'."));
    }
}

[ProblemResponse(404, "No such reporting plan.")]
[OrgScoped(ScopedName.OrgUnit, ScopedIn.Query, "orgUnit")]
public sealed class GetReportingStatus(Database database, CatalogCache catalog, TimeProvider clock)
    : Endpoint<GetReportingStatusRequest, ReportingStatusResponse>
{
    public override void Configure()
    {
        Get("/reporting/status");
        Policies(ApiScopes.TotalsRead);
        Summary(s =>
        {
            s.Summary = "Who has reported a plan's period, who is late, what awaits approval";
            s.Description = "One row per reporter (in the plan's order) within the key's subtree: state missing, reported "
                + "(an active event of its own for every plan metric in the period), submitted, approved or returned (its "
                + "latest submission). reportedAt is when it had reported (every metric recorded, or its period submitted, "
                + "whichever came first); onTime says whether that was by the end of dueOn in the office's time zone (dueBy "
                + "is the first instant after it), false for an unreported unit once dueOn is over, null before. Summary "
                + "counts are of distinct reporters; rate = reported / expected and onTimeRate = onTime / expected, never "
                + "above 1. Computed from the rollups and submissions, not from the events.";
        });
    }

    public override async Task HandleAsync(GetReportingStatusRequest req, CancellationToken ct)
    {
        var current = catalog.Current;
        var scope = OrgScope.Effective(HttpContext.Caller(), req.OrgUnit, current);
        await using var connection = await database.OpenAsync(ct);
        var plan = await PlanRow.FindAsync(connection, req.Plan!, ct) ?? throw PlanRow.NotFound(req.Plan);
        var period = plan.PeriodOf(req.Period);
        var reporters = plan.ReporterList.Where(r => scope is null || current.IsWithin(scope, r)).ToList();
        await Send.OkAsync(await ReportingStatus.ComputeAsync(connection, plan, period, reporters, current, clock, ct), ct);
    }
}
