using System.Text.Json;
using FastEndpoints;
using Tally.Api.Data;
using Tally.Api.Ledger;
using Tally.Api.OpenApi;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api.Features.Audit;

public sealed class GetEventProofRequest
{
    public string Id { get; set; } = "";
}

/// <summary>An event's inclusion proof (CONTRACT.md, Audit).</summary>
public sealed class EventProofResponse
{
    /// <summary>The event's leaf fields, exactly: id, metric, occurredOn, quantity, orgUnit, campaign, dimensions, externalId, note, source, recordedAt, supersedes.</summary>
    public required JsonElement Event { get; init; }

    /// <summary>SHA-256(0x00 ‖ the RFC 8785 canonical JSON of event), hex.</summary>
    public required string LeafHash { get; init; }

    /// <summary>The audit entry that records the event's creation.</summary>
    public required long AuditSeq { get; init; }

    /// <summary>The event's position among the entry's events (in id order), from 0.</summary>
    public required long Index { get; init; }

    /// <summary>How many events the entry records (the tree's size).</summary>
    public required long Size { get; init; }

    /// <summary>RFC 6962 audit path PATH(index, D[size]): sibling hashes from the leaf up, hex.</summary>
    public required IReadOnlyList<string> Path { get; init; }

    /// <summary>The audit entry, as GET /audit lists it: data.root is where the path leads.</summary>
    public required AuditEntryResponse Entry { get; init; }
}

[ProblemResponse(409, "The stored rows give no proof for this event: they were changed behind the server.")]
[OrgScoped(ScopedName.Event, ScopedIn.Route, "id")]
public sealed class GetEventProof(Database database) : Endpoint<GetEventProofRequest, EventProofResponse>
{
    public override void Configure()
    {
        Get("/events/{id}/proof");
        Policies(ApiScopes.AuditRead);
        Summary(s =>
        {
            s.Summary = "Prove that an event is recorded in the audit chain";
            s.Description = "The event's leaf fields, its leaf hash SHA-256(0x00 ‖ RFC 8785 JSON of event), its index among the "
                + "events its entry records (in id order), the tree's size, the RFC 6962 audit path to the entry's data.root "
                + "(node = SHA-256(0x01 ‖ left ‖ right)), and the entry, whose hash anyone can recompute (see GET /audit). An "
                + "event recorded before the Merkle form has its own event.created entry whose data is the event: index 0, "
                + "size 1, an empty path, and the entry's data holds the event's fields instead of a root. 409 when the rows "
                + "no longer give a proof (the ledger was changed in the database file: GET /audit/verify names where).";
        });
    }

    public override async Task HandleAsync(GetEventProofRequest req, CancellationToken ct)
    {
        await using var connection = await database.OpenAsync(ct);
        // One read snapshot for the event, its entry and the entry's other events; writes go on beside it.
        await using var snapshot = connection.BeginSnapshot();
        var row = await Dapper.SqlMapper.QueryFirstOrDefaultAsync<EventRow>(connection, new Dapper.CommandDefinition(
                $"SELECT {EventRow.Columns} FROM events WHERE id = @id", new { id = req.Id }, snapshot, cancellationToken: ct))
            ?? throw ProblemException.NotFound(Text.Say($"没有事件 '{Codes.Quote(req.Id)}'。", $"No event '{Codes.Quote(req.Id)}'."));
        await Send.OkAsync(await EventProofs.BuildAsync(connection, snapshot, row, ct), ct);
    }
}
