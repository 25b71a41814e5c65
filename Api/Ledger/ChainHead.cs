namespace Tally.Api.Ledger;

/// <summary>An audit chain position: the sequence number and hash of an entry (0 and the genesis hash for none).</summary>
public sealed record ChainHead(long Seq, string Hash);
