using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using Tally.Api.Ledger;

namespace Tally.Api.Features.Imports;

/// <summary>
/// The externalIds met earlier in one import, each with the row now at its head: how a row repeating an earlier row's
/// externalId is judged without writing anything, so a dry run judges exactly as a real run. Kept compact (a 128-bit
/// hash per externalId, a 64-bit fingerprint of the content, the row's number and spool offset: 48 bytes an entry) so a
/// million-row file stays small in memory. Fingerprints only tell content apart: equal ones are confirmed by reading the
/// earlier row again from the spool and comparing it field by field. One import's thread only.
/// </summary>
public sealed class FileExternalIds(int capacity)
{
    private readonly Dictionary<UInt128, FileHead> _heads = new(capacity);
    private readonly XxHash3 _content = new();

    public bool TryGet(string externalId, out FileHead head) => _heads.TryGetValue(KeyOf(externalId), out head);

    public void Set(string externalId, FileHead head) => _heads[KeyOf(externalId)] = head;

    /// <summary>
    /// Whether <paramref name="input"/> (whose fingerprint is <paramref name="content"/>) has the head row's content:
    /// different fingerprints say no at once; equal ones are confirmed field by field against the head row as
    /// <paramref name="spooledAt"/> reads it back, so two rows whose fingerprints collide are never the same.
    /// </summary>
    public static bool SameContent(FileHead head, ulong content, NewEvent input, Func<long, NewEvent> spooledAt) =>
        head.Content == content && input.SameContentAs(spooledAt(head.Offset));

    /// <summary>What <see cref="NewEvent.SameContentAs(NewEvent)"/> compares, hashed: different fingerprints, different content.</summary>
    public ulong Fingerprint(NewEvent input)
    {
        _content.Reset();
        Append(input.Metric);
        AppendNumber(input.OccurredOn.DayNumber);
        AppendNumber(input.Quantity);
        Append(input.OrgUnit);
        Append(input.Campaign);
        Append(input.DimensionsJson);
        Append(input.Note);
        return _content.GetCurrentHashAsUInt64();
    }

    /// <summary>Each text length-prefixed (-1 for null), so no two field lists hash the same bytes.</summary>
    private void Append(string? text)
    {
        AppendNumber(text?.Length ?? -1);
        if (text is not null)
            _content.Append(MemoryMarshal.AsBytes(text.AsSpan()));
    }

    private void AppendNumber(long number)
    {
        Span<byte> bytes = stackalloc byte[sizeof(long)];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, number);
        _content.Append(bytes);
    }

    private static UInt128 KeyOf(string externalId) => XxHash128.HashToUInt128(MemoryMarshal.AsBytes(externalId.AsSpan()));
}

/// <summary>The row at the head of an externalId in one import: its content's fingerprint, number and spool offset.</summary>
public readonly record struct FileHead(ulong Content, int Row, long Offset);
