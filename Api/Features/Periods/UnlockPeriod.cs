using System.Text.Json.Nodes;
using Dapper;
using FastEndpoints;
using Tally.Api.Data;
using Tally.Api.Features.Catalog;
using Tally.Api.Ledger;
using Tally.Api.Security;

namespace Tally.Api.Features.Periods;

[UnboundKeysOnly("a locked year holds for every org unit; only a key bound to none may unlock it.", Zh = "年度锁定对所有单位生效，只有不绑定单位的密钥才能解锁。")]
public sealed class UnlockPeriod(LedgerWriter writer) : Endpoint<PeriodChangeRequest, PeriodResponse>
{
    public override void Configure()
    {
        Post("/periods/{year}/unlock");
        Policies(ApiScopes.Admin);
        Summary(s =>
        {
            s.Summary = "Unlock a year: accept writes into it again";
            s.Description = "Unlocking an open year changes nothing and answers with the period as it stands. Audited as "
                + "period.unlocked with the reason (the period itself keeps no lock reason once open).";
        });
    }

    public override async Task HandleAsync(PeriodChangeRequest req, CancellationToken ct)
    {
        var caller = HttpContext.Caller();
        var year = LockPeriod.RouteYear(Route<string>("year"));
        await Send.OkAsync(await writer.SubmitAsync(new UnlockPeriodCommand(year, req.Reason!, caller.Actor), ct), ct);
    }
}

public sealed class UnlockPeriodCommand(int year, string reason, Actor actor) : LedgerCommand<PeriodResponse>
{
    protected override PeriodResponse Run(LedgerContext context)
    {
        var existing = PeriodRow.Find(context.Connection, context.Transaction, year);
        if (!existing.Locked)
            return existing.ToResponse();
        context.Connection.Execute(
            "UPDATE periods SET locked = 0, locked_at = NULL, lock_reason = NULL, updated_at = @now WHERE year = @year",
            new { year, now = context.Now }, context.Transaction);
        context.Audit(actor, "period.unlocked", $"period:{year}",
            new JsonObject { ["year"] = year, ["reason"] = reason, ["lockedAt"] = existing.LockedAt is { } lockedAt ? Instant.ToStorage(lockedAt) : null, ["lockReason"] = existing.LockReason });
        return PeriodRow.Find(context.Connection, context.Transaction, year).ToResponse();
    }
}
