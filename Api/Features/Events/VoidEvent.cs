using FastEndpoints;
using FluentValidation;
using Tally.Api.Ledger;
using Tally.Api.OpenApi;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api.Features.Events;

/// <summary>The body of a void; the event's id comes from the route.</summary>
public sealed class VoidEventRequest
{
    public string? Reason { get; set; }
}

public sealed class VoidEventValidator : Validator<VoidEventRequest>
{
    public const int MaxReasonLength = 500;

    public VoidEventValidator() =>
        RuleFor(x => x.Reason).NotEmpty().WithMessage(_ => ReasonMessage).MaximumLength(MaxReasonLength).WithMessage(_ => ReasonMessage)
            .Must(r => r is null || r.All(c => !char.IsControl(c) || c is '\n' or '\r' or '\t'))
            .WithMessage(_ => ReasonMessage);

    private static string ReasonMessage => Text.Say($"reason（作废原因）为必填项：至多 {MaxReasonLength} 个字符，除换行和制表符外不得含控制字符。",
        $"reason is required: at most {MaxReasonLength} characters, without control characters other than line breaks and tabs.");
}

[ProblemResponse(409, "The event is already voided (already-voided), or its year is locked (period-locked).")]
[OrgScoped(ScopedName.Event, ScopedIn.Route, "id")]
public sealed class VoidEvent(LedgerWriter writer) : Endpoint<VoidEventRequest, EventResponse>
{
    public override void Configure()
    {
        Post("/events/{id}/void");
        Policies(ApiScopes.EventsWrite);
        Summary(s =>
        {
            s.Summary = "Void an event";
            s.Description = "The event stays readable forever, marked voided with the reason, and leaves every total. "
                + "A key bound to an org unit gets 403 for an event outside its subtree and for an id that names nothing.";
        });
    }

    public override async Task HandleAsync(VoidEventRequest req, CancellationToken ct)
    {
        var caller = HttpContext.Caller();
        var voided = await writer.SubmitAsync(new VoidEventCommand(Route<string>("id")!, req.Reason!, caller), ct);
        await Send.OkAsync(voided.ToResponse(), ct);
    }
}

public sealed class VoidEventCommand(string id, string reason, ApiKeyRecord caller) : LedgerCommand<EventRow>
{
    protected override EventRow Run(LedgerContext context)
    {
        var row = EventRow.Find(context.Connection, id, context.Transaction);
        // A bound key gets the same 403 whether the id is outside its subtree or names nothing (as GET /events/{id}).
        if (caller.OrgUnit is not null && (row is null || !OrgScope.CanReach(caller, row.OrgUnit, context.Catalog)))
            throw ProblemException.Forbidden(Text.Say($"事件“{Codes.Quote(id)}”不在填报单位 {caller.OrgUnit} 之内：需要 {caller.OrgUnit} 或其下级单位。",
                $"Event '{Codes.Quote(id)}' is not within org unit '{caller.OrgUnit}': it requires {caller.OrgUnit} or a unit below it."));
        if (row is null)
            throw ProblemException.NotFound(Text.Say($"没有事件“{Codes.Quote(id)}”。", $"No event '{Codes.Quote(id)}'."));
        return EventLedger.Void(context, row, reason, caller.Actor);
    }
}
