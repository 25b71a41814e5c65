using System.Text.Json;
using Tally.Api.Data;

namespace Tally.Api.Ledger;

/// <summary>A validated event on its way into the ledger.</summary>
public sealed record NewEvent(
    string Metric, DateOnly OccurredOn, long Quantity, string OrgUnit, string? Campaign,
    SortedDictionary<string, string> Dimensions, string? ExternalId, string? Note)
{
    public string DimensionsJson { get; } = Dimensions.Count == 0 ? "{}" : JsonSerializer.Serialize(Dimensions);

    /// <summary>Same content as a stored event: what idempotent replay compares.</summary>
    public bool SameContentAs(EventRow row) =>
        row.Metric == Metric && row.OccurredOn == Day.ToStorage(OccurredOn) && row.Quantity == Quantity &&
        row.OrgUnit == OrgUnit && row.Campaign == Campaign && row.Dimensions == DimensionsJson && row.Note == Note;

    /// <summary>Same content as another input (an earlier item or row of the same request), field by field.</summary>
    public bool SameContentAs(NewEvent other) =>
        other.Metric == Metric && other.OccurredOn == OccurredOn && other.Quantity == Quantity &&
        other.OrgUnit == OrgUnit && other.Campaign == Campaign && other.DimensionsJson == DimensionsJson &&
        other.Note == Note;
}

/// <summary>Who records: the key's id and name for the audit trail, its source for idempotency.</summary>
public sealed record Recorder(Actor Actor, string Source);
