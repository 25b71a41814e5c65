using FastEndpoints;
using FluentValidation;
using Microsoft.Extensions.Options;
using Tally.Api.Http;
using Tally.Api.Ledger;
using Tally.Api.OpenApi;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api.Features.Events;

public sealed class RecordEventBatchRequest
{
    public List<EventInput?>? Events { get; set; }
}

public sealed class RecordEventBatchValidator : Validator<RecordEventBatchRequest>
{
    /// <summary>Built once per process by FastEndpoints: its services are the request's (<see cref="RequestServices"/>).</summary>
    public RecordEventBatchValidator()
        : this(RequestServices.Catalog, RequestServices.Clock, RequestServices.Options<LimitOptions>())
    {
    }

    private RecordEventBatchValidator(CatalogCache catalog, TimeProvider clock, IOptions<LimitOptions> limits)
    {
        // Read at each check, not once: the options are the request's app's.
        int MaxItems() => limits.Value.MaxBatchItems;
        RuleFor(x => x.Events)
            .NotNull().WithMessage(_ => Text.Say($"events 为必填项：含 1 到 {MaxItems():N0} 个事件的数组。", $"events is required: an array of 1 to {MaxItems():N0} events."))
            .Must(e => e is null || e.Count is > 0).WithMessage(_ => Text.Say("一批至少包含一个事件。", "A batch holds at least one event."))
            .Must(e => e is null || e.Count <= MaxItems()).WithMessage(_ => Text.Say($"一批至多包含 {MaxItems():N0} 个事件。", $"A batch holds at most {MaxItems():N0} events."))
            .DependentRules(() => RuleForEach(x => x.Events)
                .NotNull().WithMessage(_ => Text.Say("每一项都须为事件对象。", "Each item must be an event object."))
                .SetValidator(new EventInputRules(catalog, clock)!));
    }
}

public sealed record EventBatchItem(int Index, string Id, string Status);

public sealed record RecordEventBatchResponse(int Created, int Unchanged, IReadOnlyList<EventBatchItem> Items);

[ProblemResponse(409, "An item reuses an externalId with other content (errors name every such item), "
    + "or an item's year is locked; nothing of the batch was stored.")]
[OrgScoped(ScopedName.OrgUnit, ScopedIn.Body, "events[].orgUnit")]
public sealed class RecordEventBatch(LedgerWriter writer, CatalogCache catalog) : Endpoint<RecordEventBatchRequest, RecordEventBatchResponse>
{
    public override void Configure()
    {
        Post("/events/batch");
        Policies(ApiScopes.EventsWrite);
        Summary(s =>
        {
            s.Summary = "Record a batch of events, all or nothing";
            s.Description = "1 to Tally:Limits:MaxBatchItems events (10,000 by default), committed together or not at all. "
                + "Errors are keyed events[i].field. Each item is idempotent like POST /events: an item whose externalId "
                + "this source already used with the same content (earlier, or earlier in the same batch) is 'unchanged' "
                + "and names the original event; with other content the whole batch is refused with 409.";
        });
    }

    public override async Task HandleAsync(RecordEventBatchRequest req, CancellationToken ct)
    {
        var caller = HttpContext.Caller();
        var current = catalog.Current;
        var inputs = req.Events!.Select(e => e!.ToNewEvent(current)).ToList();
        var outcomes = await writer.SubmitAsync(
            new RecordEventBatchCommand(inputs, new Recorder(caller.Actor, caller.Source),
                unit => OrgScope.CanReach(caller, unit, catalog.Current)), ct);
        var items = outcomes.Select((o, i) => new EventBatchItem(i, o.Id,
            o.Status == RecordStatus.Created ? "created" : "unchanged")).ToList();
        var created = outcomes.Count(o => o.Status == RecordStatus.Created);
        await Send.OkAsync(new RecordEventBatchResponse(created, items.Count - created, items), ct);
    }
}

/// <summary>The whole batch as one command: it commits with its group or, on any refusal, leaves nothing behind.</summary>
public sealed class RecordEventBatchCommand(IReadOnlyList<NewEvent> inputs, Recorder recorder, Func<string, bool> canReach)
    : LedgerCommand<IReadOnlyList<BatchOutcome>>
{
    public override int Weight => inputs.Count;

    protected override IReadOnlyList<BatchOutcome> Run(LedgerContext context) =>
        EventLedger.RecordBatch(context, inputs, recorder, canReach);
}
