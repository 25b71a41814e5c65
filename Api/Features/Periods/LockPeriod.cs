using System.Globalization;
using System.Text.Json.Nodes;
using Dapper;
using FastEndpoints;
using FluentValidation;
using Tally.Api.Data;
using Tally.Api.Features.Catalog;
using Tally.Api.Features.Totals;
using Tally.Api.Ledger;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api.Features.Periods;

/// <summary>The body of a lock or unlock; the year comes from the route.</summary>
public sealed class PeriodChangeRequest
{
    public string? Reason { get; set; }
}

public sealed class PeriodChangeValidator : Validator<PeriodChangeRequest>
{
    public const int MaxReason = 500;

    public PeriodChangeValidator()
    {
        RuleFor(x => x.Reason).NotEmpty().WithMessage(_ => Text.Say("reason（原因）为必填项。", "reason is required."))
            .MaximumLength(MaxReason).WithMessage(_ => Text.Say($"reason（原因）至多 {MaxReason} 个字符。", $"reason must be at most {MaxReason} characters."))
            .Must(r => r is null || !r.Any(char.IsControl)).WithMessage(_ => Text.Say("reason（原因）不得含控制字符。", "reason must not contain control characters."));
    }
}

[UnboundKeysOnly("a locked year holds for every org unit; only a key bound to none may lock it.", Zh = "年度锁定对所有单位生效，只有不绑定单位的密钥才能锁定。")]
public sealed class LockPeriod(LedgerWriter writer) : Endpoint<PeriodChangeRequest, PeriodResponse>
{
    public override void Configure()
    {
        Post("/periods/{year}/lock");
        Policies(ApiScopes.Admin);
        Summary(s =>
        {
            s.Summary = "Lock a year: refuse every write into it";
            s.Description = "While a year is locked, every write whose occurredOn falls in it (create, batch item, "
                + "upsert, void) is refused with 409 period-locked. Locking a locked year changes nothing and answers "
                + "with the lock as it stands. Audited as period.locked. Locks hold for every org unit, so a key bound "
                + "to one cannot change them.";
        });
    }

    public override async Task HandleAsync(PeriodChangeRequest req, CancellationToken ct)
    {
        var caller = HttpContext.Caller();
        var year = RouteYear(Route<string>("year"));
        await Send.OkAsync(await writer.SubmitAsync(new LockPeriodCommand(year, req.Reason!, caller.Actor), ct), ct);
    }

    /// <summary>The {year} of a period route: 2000 to 9999, else 400.</summary>
    public static int RouteYear(string? text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var year) && Period.IsValidYear(year)
            ? year
            : throw ProblemException.Validation("year", Text.Say($"year 须在 {Period.FirstYear} 到 {Period.LastYear} 之间。", $"year must be from {Period.FirstYear} to {Period.LastYear}."));
}

public sealed class LockPeriodCommand(int year, string reason, Actor actor) : LedgerCommand<PeriodResponse>
{
    protected override PeriodResponse Run(LedgerContext context)
    {
        var existing = PeriodRow.Find(context.Connection, context.Transaction, year);
        if (existing.Locked)
            return existing.ToResponse();
        var now = context.Now;
        context.Connection.Execute(
            """
            INSERT INTO periods (year, locked, locked_at, lock_reason, updated_at) VALUES (@year, 1, @now, @reason, @now)
            ON CONFLICT (year) DO UPDATE
            SET locked = 1, locked_at = excluded.locked_at, lock_reason = excluded.lock_reason, updated_at = excluded.updated_at
            """, new { year, now, reason }, context.Transaction);
        context.Audit(actor, "period.locked", $"period:{year}",
            new JsonObject { ["year"] = year, ["reason"] = reason, ["lockedAt"] = now });
        return PeriodRow.Find(context.Connection, context.Transaction, year).ToResponse();
    }
}
