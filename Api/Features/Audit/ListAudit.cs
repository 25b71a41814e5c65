using System.ComponentModel;
using System.Globalization;
using System.Text;
using Dapper;
using FastEndpoints;
using FluentValidation;
using Tally.Api.Data;
using Tally.Api.Http;
using Tally.Api.Security;

namespace Tally.Api.Features.Audit;

public sealed class ListAuditRequest : IPagedRequest
{
    public int? Limit { get; set; }
    public string? Cursor { get; set; }

    [Description("Only entries with this action, e.g. events.created, event.voided, key.revoked.")]
    public string? Action { get; set; }

    [Description("Only entries about this entity, e.g. events:evt_01J... (the events a command created, by the first), event:evt_01J... (a void), metric:websites.cleaned, api-key:key_01J....")]
    public string? Entity { get; set; }

    [Description("Only entries recorded strictly after this instant (ISO-8601 with Z or an offset).")]
    public string? After { get; set; }
}

public sealed class ListAuditValidator : Validator<ListAuditRequest>
{
    public ListAuditValidator()
    {
        this.AddPagingRules();
        RuleFor(x => x.Action).MaximumLength(100);
        RuleFor(x => x.Entity).MaximumLength(300);
        RuleFor(x => x.After).Must(a => a is null || Instant.TryParse(a, out _))
            .WithMessage(_ => Problems.Text.Say("after 须为时刻，例如 2025-01-06T09:30:00Z。", "after must be an instant such as 2025-01-06T09:30:00Z."));
    }
}

[NotOrgScoped("A key bound to an org unit sees only entries about its subtree and the shared catalog.")]
public sealed class ListAudit(Database database) : Endpoint<ListAuditRequest, Page<AuditEntryResponse>>
{
    private const string CursorKind = "audit";

    public override void Configure()
    {
        Get("/audit");
        Policies(ApiScopes.AuditRead);
        Summary(s =>
        {
            s.Summary = "List audit entries in chain order";
            s.Description = "Entries page by seq. Each entry carries what its hash covers: hash = sha256 hex of prevHash followed by "
                + "the canonical JSON of {action, actor: {keyId, name}, at, data, entity, seq} (keys sorted by ordinal, no white "
                + "space, non-ASCII and HTML-sensitive characters written as \\uXXXX escapes). An events.created entry commits to "
                + "the events one write command created through an RFC 6962 root (GET /events/{id}/proof). A key bound to an org "
                + "unit sees entries about events (an events.created entry by its first event), org units and keys of its subtree, and those about metrics, campaigns and periods.";
        });
    }

    public override async Task HandleAsync(ListAuditRequest req, CancellationToken ct)
    {
        var afterKey = Paging.DecodeOrThrow(CursorKind, req.Cursor);
        long afterSeq = 0;
        if (afterKey.Length > 0 && !long.TryParse(afterKey, NumberStyles.None, CultureInfo.InvariantCulture, out afterSeq))
            throw Problems.ProblemException.Validation("cursor", Problems.Text.Say("cursor 对此列表无效。", "The cursor is not valid for this list."));
        var limit = Paging.LimitOf(req);
        var caller = HttpContext.Caller();
        DateTimeOffset? after = null;
        if (req.After is not null && Instant.TryParse(req.After, out var instant))
            after = instant;

        var sql = new StringBuilder($"SELECT {AuditRow.Columns} FROM audit_log WHERE seq > @afterSeq");
        // Conditions are added only when asked for, so SQLite can walk the (action, seq) or (entity, seq) index.
        if (req.Action is not null)
            sql.Append(" AND action = @Action");
        if (req.Entity is not null)
            sql.Append(" AND entity = @Entity");
        if (after is not null)
        {
            // Start at the first entry after the instant (index on at), then keep the filter for clocks that stepped back.
            sql.Append(" AND at > @after AND seq >= (SELECT coalesce(min(seq), 9223372036854775807) FROM audit_log WHERE at > @after)");
        }
        if (caller.OrgUnit is not null)
            sql.Append(" AND ").Append(BoundKeyFilter);
        sql.Append(" ORDER BY seq LIMIT @take");

        await using var connection = await database.OpenAsync(ct);
        var rows = (await connection.QueryAsync<AuditRow>(new CommandDefinition(sql.ToString(),
            new { afterSeq, req.Action, req.Entity, after, bound = caller.OrgUnit, take = limit + 1 },
            cancellationToken: ct))).ToList();
        var page = Paging.ToPage(CursorKind, rows, limit, r => r.Seq.ToString(CultureInfo.InvariantCulture));
        await Send.OkAsync(new Page<AuditEntryResponse>(page.Items.Select(r => r.ToResponse()).ToList(), page.NextCursor), ct);
    }

    /// <summary>What a key bound to @bound may see: its subtree's events, units and keys, and the shared catalog.</summary>
    private const string BoundKeyFilter =
        """
        (
            (entity >= 'event:' AND entity < 'event;' AND EXISTS (
                SELECT 1 FROM events e JOIN org_unit_closure c ON c.descendant = e.org_unit
                WHERE e.id = substr(audit_log.entity, 7) AND c.ancestor = @bound))
         OR (entity >= 'events:' AND entity < 'events;' AND EXISTS (
                SELECT 1 FROM events e JOIN org_unit_closure c ON c.descendant = e.org_unit
                WHERE e.id = substr(audit_log.entity, 8) AND c.ancestor = @bound))
         OR (entity >= 'org-unit:' AND entity < 'org-unit;' AND EXISTS (
                SELECT 1 FROM org_unit_closure c WHERE c.ancestor = @bound AND c.descendant = substr(audit_log.entity, 10)))
         OR (entity >= 'api-key:' AND entity < 'api-key;' AND EXISTS (
                SELECT 1 FROM api_keys k JOIN org_unit_closure c ON c.descendant = k.org_unit
                WHERE k.id = substr(audit_log.entity, 9) AND c.ancestor = @bound))
         OR (entity >= 'metric:' AND entity < 'metric;')
         OR (entity >= 'campaign:' AND entity < 'campaign;')
         OR (entity >= 'period:' AND entity < 'period;')
        )
        """;
}
