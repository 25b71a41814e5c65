using Dapper;
using FastEndpoints;
using Tally.Api.Data;
using Tally.Api.Ledger;
using Tally.Api.OpenApi;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api.Features.Catalog;

public sealed class CreateMetricRequest : MetricFields
{
    public string? Code { get; set; }
}

public sealed class CreateMetricValidator : Validator<CreateMetricRequest>
{
    public CreateMetricValidator()
    {
        RuleFor(x => x.Code).ValidCode();
        this.AddMetricFieldRules();
    }
}

[ProblemResponse(409, "A metric with that code exists (conflict).")]
[UnboundKeysOnly("metrics are shared by all org units; only a key bound to none may change them.", Zh = "指标由所有单位共用，只有不绑定单位的密钥才能修改。")]
public sealed class CreateMetric(LedgerWriter writer) : Endpoint<CreateMetricRequest, MetricResponse>
{
    public override void Configure()
    {
        Post("/metrics");
        Description(b => b.Creates<MetricResponse>());
        Policies(ApiScopes.Admin);
        Summary(s => s.Summary = "Create a metric");
    }

    public override async Task HandleAsync(CreateMetricRequest req, CancellationToken ct)
    {
        var caller = HttpContext.Caller();
        var metric = await writer.SubmitAsync(new CreateMetricCommand(req, caller.Actor), ct);
        HttpContext.Response.Headers.Location = $"/api/v1/metrics/{metric.Code}";
        await Send.ResponseAsync(metric, StatusCodes.Status201Created, ct);
    }
}

public sealed class CreateMetricCommand(CreateMetricRequest req, Actor actor) : LedgerCommand<MetricResponse>
{
    protected override MetricResponse Run(LedgerContext context)
    {
        var code = req.Code!;
        var position = context.Connection.ExecuteScalar<int>(
            "SELECT coalesce(max(position), 0) + 1 FROM metrics", transaction: context.Transaction);
        var inserted = context.Connection.Execute(
            """
            INSERT INTO metrics (code, position, name, name_en, unit, description, dimensions, report_template,
                                 approximate, active, created_at, updated_at)
            VALUES (@code, @position, @Name, @NameEn, @Unit, @Description, @dimensions, @ReportTemplate,
                    @approximate, @active, @now, @now)
            ON CONFLICT (code) DO NOTHING
            """,
            new
            {
                code, position, req.Name, req.NameEn, req.Unit, req.Description, dimensions = req.DimensionsJson(),
                req.ReportTemplate, approximate = req.Approximate ?? false, active = req.Active ?? true,
                now = context.Now,
            }, context.Transaction);
        if (inserted == 0)
            throw ProblemException.Conflict(Text.Say($"指标“{code}”已存在。", $"Metric '{code}' already exists."));
        context.Audit(actor, "metric.created", "metric:" + code, req.ToAudit(code));
        context.MarkCatalogChanged();
        return MetricResponse.From(new MetricDefinition(code, position, req.Name!, req.NameEn, req.Unit!, req.Description,
            req.DimensionDefinitions(), req.ReportTemplate, req.Approximate ?? false, req.Active ?? true));
    }
}
