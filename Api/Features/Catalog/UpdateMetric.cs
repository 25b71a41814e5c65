using Dapper;
using FastEndpoints;
using Tally.Api.Data;
using Tally.Api.Ledger;
using Tally.Api.OpenApi;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api.Features.Catalog;

public sealed class UpdateMetricRequest : MetricFields
{
}

public sealed class UpdateMetricValidator : Validator<UpdateMetricRequest>
{
    public UpdateMetricValidator() => this.AddMetricFieldRules();
}

[ProblemResponse(409, "The update removes a dimension value that events use (conflict).")]
[UnboundKeysOnly("metrics are shared by all org units; only a key bound to none may change them.", Zh = "指标由所有单位共用，只有不绑定单位的密钥才能修改。")]
public sealed class UpdateMetric(LedgerWriter writer) : Endpoint<UpdateMetricRequest, MetricResponse>
{
    public override void Configure()
    {
        Put("/metrics/{code}");
        Policies(ApiScopes.Admin);
        Summary(s =>
        {
            s.Summary = "Replace a metric's definition";
            s.Description = "Omitted optional fields take their defaults. Removing a dimension value that events use is refused (409).";
        });
    }

    public override async Task HandleAsync(UpdateMetricRequest req, CancellationToken ct)
    {
        var caller = HttpContext.Caller();
        await Send.OkAsync(await writer.SubmitAsync(new UpdateMetricCommand(Route<string>("code")!, req, caller.Actor), ct), ct);
    }
}

public sealed class UpdateMetricCommand(string code, UpdateMetricRequest req, Actor actor) : LedgerCommand<MetricResponse>
{
    protected override MetricResponse Run(LedgerContext context)
    {
        var found = context.Connection.Query<(int Position, string Dimensions)>(
            "SELECT position, dimensions FROM metrics WHERE code = @code", new { code }, context.Transaction).ToList();
        if (found.Count == 0)
            throw ProblemException.NotFound(Text.Say($"没有指标“{Codes.Quote(code)}”。", $"No metric '{Codes.Quote(code)}'."));
        var current = found[0];

        var next = req.DimensionDefinitions();
        foreach (var old in CatalogSnapshot.ParseDimensions(current.Dimensions))
        {
            var kept = next.FirstOrDefault(d => d.Key == old.Key)?.Values ?? [];
            foreach (var value in old.Values.Except(kept, StringComparer.Ordinal))
            {
                var sql = Sql.Of(context.Connection);
                var used = context.Connection.ExecuteScalar<bool>(
                    $"SELECT EXISTS (SELECT 1 FROM events WHERE metric = @code AND {sql.JsonText("dimensions", "path")} = @value)",
                    new { code, path = sql.JsonKey(old.Key), value }, context.Transaction);
                if (used)
                    throw ProblemException.Conflict(
                        Text.Say($"指标“{code}”的维度取值 {old.Key}={value} 已被事件使用，不能删除。",
                            $"Dimension value {old.Key}={value} of metric '{code}' is used by events and cannot be removed."));
            }
        }

        context.Connection.Execute(
            """
            UPDATE metrics SET name = @Name, name_en = @NameEn, unit = @Unit, description = @Description,
                dimensions = @dimensions, report_template = @ReportTemplate, approximate = @approximate,
                active = @active, updated_at = @now
            WHERE code = @code
            """,
            new
            {
                code, req.Name, req.NameEn, req.Unit, req.Description, dimensions = req.DimensionsJson(),
                req.ReportTemplate, approximate = req.Approximate ?? false, active = req.Active ?? true,
                now = context.Now,
            }, context.Transaction);
        context.Audit(actor, "metric.updated", "metric:" + code, req.ToAudit(code));
        context.MarkCatalogChanged();
        return MetricResponse.From(new MetricDefinition(code, current.Position, req.Name!, req.NameEn, req.Unit!,
            req.Description, next, req.ReportTemplate, req.Approximate ?? false, req.Active ?? true));
    }
}
