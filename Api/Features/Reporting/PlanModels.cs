using System.Text.Json;
using Dapper;
using FluentValidation;
using System.Data.Common;
using Tally.Api.Data;
using Tally.Api.Features.Catalog;
using Tally.Api.Ledger;
using Tally.Api.Problems;

namespace Tally.Api.Features.Reporting;

/// <summary>The body fields a reporting plan is created and replaced with.</summary>
public abstract class PlanFields
{
    public string? Name { get; set; }
    public List<string>? Metrics { get; set; }
    public string? Frequency { get; set; }
    public List<string>? Reporters { get; set; }
    public int? DueDays { get; set; }
    public DateOnly? StartsOn { get; set; }
    public DateOnly? EndsOn { get; set; }
}

public static class PlanFieldRules
{
    public const int MaxMetrics = 100;
    public const int MaxReporters = 10000;
    public const int MaxDueDays = 366;

    public static void AddPlanFieldRules<T>(this AbstractValidator<T> v, CatalogCache catalog) where T : PlanFields
    {
        v.RuleFor(x => x.Name).ValidName();
        v.RuleFor(x => x.Metrics).NotEmpty().Custom((metrics, ctx) =>
        {
            if (metrics is null)
                return;
            if (metrics.Count > MaxMetrics)
                ctx.AddFailure("metrics", Text.Say($"最多 {MaxMetrics} 个指标。", $"At most {MaxMetrics} metrics."));
            for (var i = 0; i < Math.Min(metrics.Count, MaxMetrics); i++)
            {
                if (!catalog.Current.Metrics.ContainsKey(metrics[i] ?? ""))
                    ctx.AddFailure($"metrics[{i}]", Text.Say($"未知指标 '{Codes.Quote(metrics[i])}'。", $"Unknown metric '{Codes.Quote(metrics[i])}'."));
                else if (metrics.IndexOf(metrics[i]) < i)
                    ctx.AddFailure($"metrics[{i}]", Text.Say("指标重复。", "This metric is listed twice."));
            }
        });
        v.RuleFor(x => x.Frequency).NotEmpty().Must(f => f is null || ReportingPeriod.Frequencies.Contains(f))
            .WithMessage(_ => Text.Say("frequency 应为 month、quarter 或 year。", "frequency must be month, quarter or year."));
        v.RuleFor(x => x.Reporters).NotEmpty().Custom((reporters, ctx) =>
        {
            if (reporters is null)
                return;
            if (reporters.Count > MaxReporters)
                ctx.AddFailure("reporters", Text.Say($"最多 {MaxReporters} 个报送单位。", $"At most {MaxReporters} reporters."));
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var failures = 0;
            for (var i = 0; i < Math.Min(reporters.Count, MaxReporters) && failures < 100; i++)
            {
                if (!catalog.Current.OrgUnits.ContainsKey(reporters[i] ?? ""))
                {
                    failures++;
                    ctx.AddFailure($"reporters[{i}]", Text.Say($"未知单位 '{Codes.Quote(reporters[i])}'。", $"Unknown org unit '{Codes.Quote(reporters[i])}'."));
                }
                else if (!seen.Add(reporters[i]))
                {
                    failures++;
                    ctx.AddFailure($"reporters[{i}]", Text.Say("单位重复。", "This org unit is listed twice."));
                }
            }
        });
        v.RuleFor(x => x.DueDays).NotNull().InclusiveBetween(0, MaxDueDays)
            .WithMessage(_ => Text.Say($"dueDays 应为 0 到 {MaxDueDays}。", $"dueDays must be from 0 to {MaxDueDays}."));
        v.RuleFor(x => x.StartsOn).NotNull().GreaterThanOrEqualTo(new DateOnly(2000, 1, 1))
            .WithMessage(_ => Text.Say("startsOn 为必填项，且不早于 2000-01-01。", "startsOn is required and not before 2000-01-01."));
        v.RuleFor(x => x.EndsOn)
            .Must((x, endsOn) => x.StartsOn is null || endsOn is null || endsOn >= x.StartsOn)
            .WithMessage(_ => Text.Say("endsOn 不能早于 startsOn。", "endsOn must not be before startsOn."));
    }
}

/// <summary>A reporting plan (CONTRACT.md, Reporting up the tree).</summary>
public sealed class PlanResponse
{
    public required string Code { get; init; }
    public required string Name { get; init; }
    public required IReadOnlyList<string> Metrics { get; init; }
    public required string Frequency { get; init; }
    public required IReadOnlyList<string> Reporters { get; init; }
    public required int DueDays { get; init; }
    public required DateOnly StartsOn { get; init; }
    public required DateOnly? EndsOn { get; init; }
}

/// <summary>A reporting_plans row as stored.</summary>
public sealed class PlanRow
{
    public const string Columns =
        "code, name, metrics, frequency, reporters, due_days AS DueDays, starts_on AS StartsOn, ends_on AS EndsOn";

    public string Code { get; init; } = "";
    public string Name { get; init; } = "";
    public string Metrics { get; init; } = "[]";
    public string Frequency { get; init; } = "";
    public string Reporters { get; init; } = "[]";
    public int DueDays { get; init; }
    public string StartsOn { get; init; } = "";
    public string? EndsOn { get; init; }

    public IReadOnlyList<string> MetricList => JsonSerializer.Deserialize<List<string>>(Metrics) ?? [];
    public IReadOnlyList<string> ReporterList => JsonSerializer.Deserialize<List<string>>(Reporters) ?? [];

    public PlanResponse ToResponse() => new()
    {
        Code = Code, Name = Name, Metrics = MetricList, Frequency = Frequency, Reporters = ReporterList, DueDays = DueDays,
        StartsOn = Day.FromStorage(StartsOn), EndsOn = EndsOn is null ? null : Day.FromStorage(EndsOn),
    };

    public static async Task<PlanRow?> FindAsync(DbConnection connection, string code, CancellationToken ct) =>
        await connection.QueryFirstOrDefaultAsync<PlanRow>(new CommandDefinition(
            $"SELECT {Columns} FROM reporting_plans WHERE code = @code", new { code }, cancellationToken: ct));

    public static PlanRow? Find(DbConnection connection, DbTransaction transaction, string code) =>
        connection.QueryFirstOrDefault<PlanRow>($"SELECT {Columns} FROM reporting_plans WHERE code = @code", new { code }, transaction);

    /// <summary>The period <paramref name="text"/> of this plan: 400 on <c>period</c> when it is not one, or lies outside the plan's dates.</summary>
    public ReportingPeriod PeriodOf(string? text)
    {
        var period = ReportingPeriod.Parse(text, Frequency);
        var startsOn = Day.FromStorage(StartsOn);
        if (period.To < startsOn || (EndsOn is not null && period.From > Day.FromStorage(EndsOn)))
            throw ProblemException.Validation("period", Text.Say(
                $"报送计划 {Code} 自 {StartsOn} 起{(EndsOn is null ? "" : $"至 {EndsOn} 止")}，不含 {period.Name} 期。",
                $"Reporting plan {Code} runs from {StartsOn}{(EndsOn is null ? "" : $" to {EndsOn}")}: {period.Name} is not one of its periods."));
        return period;
    }

    /// <summary>404 naming the plan code.</summary>
    public static ProblemException NotFound(string? code) =>
        ProblemException.NotFound(Text.Say($"没有报送计划 '{Codes.Quote(code)}'。", $"No reporting plan '{Codes.Quote(code)}'."));
}

/// <summary>The body stored for a plan: its fields as the API shows them.</summary>
internal static class PlanStorage
{
    public static object Parameters(string code, PlanFields req, DateTimeOffset now) => new
    {
        code, req.Name, metrics = JsonSerializer.Serialize(req.Metrics), req.Frequency,
        reporters = JsonSerializer.Serialize(req.Reporters), dueDays = req.DueDays, startsOn = req.StartsOn!.Value,
        endsOn = req.EndsOn, now,
    };

    /// <summary>Metrics and reporters still exist when the command runs (the validator read the snapshot a moment before).</summary>
    public static void RequireKnown(LedgerContext context, PlanFields req)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        for (var i = 0; i < req.Metrics!.Count; i++)
            if (!context.Catalog.Metrics.ContainsKey(req.Metrics[i]))
                errors[$"metrics[{i}]"] = [Text.Say($"未知指标 '{Codes.Quote(req.Metrics[i])}'。", $"Unknown metric '{Codes.Quote(req.Metrics[i])}'.")];
        for (var i = 0; i < req.Reporters!.Count && errors.Count < 100; i++)
            if (!context.Catalog.OrgUnits.ContainsKey(req.Reporters[i]))
                errors[$"reporters[{i}]"] = [Text.Say($"未知单位 '{Codes.Quote(req.Reporters[i])}'。", $"Unknown org unit '{Codes.Quote(req.Reporters[i])}'.")];
        if (errors.Count > 0)
            throw ProblemException.Validation(errors);
    }
}
