namespace Tally.Api.Ledger;

/// <summary>What the event-write policy decided for one input (<see cref="EventWritePolicy"/>).</summary>
public enum RecordStatus { Created, Unchanged, Conflict, Superseded }

public sealed record RecordOutcome(RecordStatus Status, EventRow Event);

/// <summary>What became of one batch item: the event it created, or the one it matched.</summary>
public sealed record BatchOutcome(RecordStatus Status, string Id);
