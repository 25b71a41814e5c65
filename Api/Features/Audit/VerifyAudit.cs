using System.ComponentModel;
using FastEndpoints;
using FluentValidation;
using Tally.Api.Data;
using Tally.Api.Http;
using Tally.Api.Ledger;
using Tally.Api.Security;

namespace Tally.Api.Features.Audit;

public sealed class VerifyAuditRequest
{
    [Description("A head hash kept from an earlier verify or from the server log: the chain must still contain it.")]
    public string? KnownHead { get; set; }
}

public sealed class VerifyAuditValidator : Validator<VerifyAuditRequest>
{
    public VerifyAuditValidator() =>
        RuleFor(x => x.KnownHead).Matches("^[0-9a-f]{64}$").WithMessage(_ => Problems.Text.Say("knownHead 须为 64 位小写十六进制数字。", "knownHead must be 64 lowercase hex digits."));
}

public sealed class VerifyAuditResponse
{
    public required bool Valid { get; init; }

    /// <summary>How many entries the chain holds.</summary>
    public required long Entries { get; init; }

    /// <summary>The hash of the last entry, when the chain itself holds.</summary>
    public required string? Head { get; init; }

    public required long? FirstInvalidSeq { get; init; }

    /// <summary>The first event (by id) whose row disagrees with its audit entries (or the one event of a broken entry).</summary>
    public required string? FirstInvalidEventId { get; init; }

    public required string? Reason { get; init; }
}

[ExpensiveRead]
[NotOrgScoped("The chain is one for the whole tree; a bound key is not told ids of events outside its subtree.")]
public sealed class VerifyAudit(AuditVerification verification, Database database, CatalogCache catalog)
    : Endpoint<VerifyAuditRequest, VerifyAuditResponse>
{
    public override void Configure()
    {
        Get("/audit/verify");
        Policies(ApiScopes.AuditRead);
        Options(b => b.WithRequestTimeout(RequestLimits.LongRequests));
        Summary(s =>
        {
            s.Summary = "Verify the audit chain and the ledger against it";
            s.Description = "Recomputes every entry's hash from the stored rows and checks the chain has no gap, reordering or "
                + "insertion and still ends where this server last wrote; then rebuilds every event's leaf from the events table and "
                + "each events.created entry's RFC 6962 root from its leaves (naming the entry whose events were changed, removed "
                + "or added, and a row no entry includes), replays each event's voids and its own event.created entry when it "
                + "has one (events recorded before the Merkle form), and compares every rollup totals are read from (daily, monthly, monthly per unit) with the "
                + "events, naming the first row that differs. {valid: true, entries, head} or "
                + "{valid: false, entries, firstInvalidSeq | firstInvalidEventId, reason}. Keep head outside the database and "
                + "pass it back later as knownHead to prove the chain still contains it.";
        });
    }

    public override async Task HandleAsync(VerifyAuditRequest req, CancellationToken ct)
    {
        var outcome = await verification.RunAsync(req.KnownHead, ct);
        var eventId = outcome.FirstInvalidEventId;
        var caller = HttpContext.Caller();
        if (eventId is not null && caller.OrgUnit is not null && !await OrgScope.CanReachEventAsync(caller, eventId, database, catalog.Current, ct))
            eventId = null;
        await Send.OkAsync(new VerifyAuditResponse
        {
            Valid = outcome.Valid, Entries = outcome.Entries, Head = outcome.Head, FirstInvalidSeq = outcome.FirstInvalidSeq,
            FirstInvalidEventId = eventId, Reason = outcome.Reason,
        }, ct);
    }
}
