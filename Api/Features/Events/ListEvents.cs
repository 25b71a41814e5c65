using Dapper;
using FastEndpoints;
using Tally.Api.Data;
using Tally.Api.Http;
using Tally.Api.Ledger;
using Tally.Api.Security;

namespace Tally.Api.Features.Events;

public sealed class ListEventsRequest : EventFilterQuery, IPagedRequest
{
    public int? Limit { get; set; }
    public string? Cursor { get; set; }
}

public sealed class ListEventsValidator : Validator<ListEventsRequest>
{
    /// <summary>Built once per process by FastEndpoints: its services are the request's (<see cref="RequestServices"/>).</summary>
    public ListEventsValidator()
        : this(RequestServices.Catalog)
    {
    }

    private ListEventsValidator(CatalogCache catalog)
    {
        this.AddEventFilterRules(catalog);
        this.AddPagingRules();
    }
}

[OrgScoped(ScopedName.OrgUnit, ScopedIn.Query, "orgUnit")]
public sealed class ListEvents(Database database, CatalogCache catalog) : Endpoint<ListEventsRequest, Page<EventResponse>>
{
    private const string CursorKind = "event";

    public override void Configure()
    {
        Get("/events");
        Policies(ApiScopes.EventsRead);
        Summary(s =>
        {
            s.Summary = "List events";
            s.Description = "Ordered by id, which the ledger assigns in commit order: following nextCursor never skips or "
                + "repeats an event, even while new events are being recorded.";
        });
    }

    public override async Task HandleAsync(ListEventsRequest req, CancellationToken ct)
    {
        var after = Paging.DecodeOrThrow(CursorKind, req.Cursor);
        var limit = Paging.LimitOf(req);
        var filter = EventFilters.Resolve(req, HttpContext.Request.Query, HttpContext.Caller(), catalog.Current);
        await using var connection = await database.OpenAsync(ct);
        await using var snapshot = connection.BeginSnapshot();
        var (where, values) = filter.ToSql(connection, snapshot, after);
        var parameters = new DynamicParameters(values);
        parameters.Add("take", limit + 1);
        var rows = (await connection.QueryAsync<EventRow>(new CommandDefinition(
            $"SELECT {EventRow.Columns} FROM events e WHERE {where} ORDER BY e.seq LIMIT @take",
            parameters, snapshot, cancellationToken: ct))).ToList();
        var page = Paging.ToPage(CursorKind, rows, limit, r => r.Id);
        await Send.OkAsync(new Page<EventResponse>(page.Items.Select(r => r.ToResponse()).ToList(), page.NextCursor), ct);
    }
}
