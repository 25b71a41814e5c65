using System.Text.Json;
using Tally.Api.Data;
using Tally.Api.Ledger;

namespace Tally.Api.Features.Events;

/// <summary>An event as the API shows it (CONTRACT.md, Events).</summary>
public sealed class EventResponse
{
    public required string Id { get; init; }
    public required string Metric { get; init; }
    public required DateOnly OccurredOn { get; init; }
    public required long Quantity { get; init; }
    public required string OrgUnit { get; init; }
    public required string? Campaign { get; init; }
    public required IReadOnlyDictionary<string, string> Dimensions { get; init; }
    public required string? ExternalId { get; init; }
    public required string? Note { get; init; }
    public required string Source { get; init; }
    public required DateTimeOffset RecordedAt { get; init; }
    public required string Status { get; init; }
    public required DateTimeOffset? VoidedAt { get; init; }
    public required string? VoidReason { get; init; }
    public required string? Supersedes { get; init; }
    public required string? SupersededBy { get; init; }
}

/// <summary>The one mapping from a stored events row to the contract's event.</summary>
public static class EventRowResponse
{
    public static EventResponse ToResponse(this EventRow row) => new()
    {
        Id = row.Id, Metric = row.Metric, OccurredOn = Day.FromStorage(row.OccurredOn), Quantity = row.Quantity,
        OrgUnit = row.OrgUnit, Campaign = row.Campaign,
        Dimensions = JsonSerializer.Deserialize<SortedDictionary<string, string>>(row.Dimensions) ?? [],
        ExternalId = row.ExternalId, Note = row.Note, Source = row.Source, RecordedAt = Instant.FromStorage(row.RecordedAt),
        Status = row.VoidedAt is null ? "active" : "voided",
        VoidedAt = row.VoidedAt is null ? null : Instant.FromStorage(row.VoidedAt), VoidReason = row.VoidReason,
        Supersedes = row.Supersedes, SupersededBy = row.SupersededBy,
    };
}
