using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text;
using Tally.Api.Ledger;

namespace Tally.Api.Features.Imports;

/// <summary>A checked row on its way to the ledger: its number in the file and the event it becomes.</summary>
public readonly record struct SpooledRow(int Number, NewEvent Event);

/// <summary>
/// The checking pass writes every valid row here as it maps it, in a compact binary form, so the storing pass (and a
/// dry run) reads mapped events back instead of parsing the upload a second time (an XLSX read is the slow part).
/// </summary>
public sealed class ImportSpoolWriter(string path) : IDisposable
{
    private readonly BinaryWriter _writer = new(
        new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 64 * 1024), Encoding.UTF8, leaveOpen: false);

    public void Write(int number, NewEvent input)
    {
        _writer.Write(number);
        _writer.Write(input.Metric);
        _writer.Write(input.OccurredOn.DayNumber);
        _writer.Write(input.Quantity);
        _writer.Write(input.OrgUnit);
        WriteOptional(input.Campaign);
        _writer.Write(input.Dimensions.Count);
        foreach (var (key, value) in input.Dimensions)
        {
            _writer.Write(key);
            _writer.Write(value);
        }
        WriteOptional(input.ExternalId);
        WriteOptional(input.Note);
    }

    private void WriteOptional(string? text)
    {
        _writer.Write(text is not null);
        if (text is not null)
            _writer.Write(text);
    }

    public void Dispose() => _writer.Dispose();
}

public static class ImportSpool
{
    public static string PathFor(string uploadPath) => Path.ChangeExtension(uploadPath, ".rows");

    public static IEnumerable<SpooledRow> Read(string path)
    {
        using var reader = new BinaryReader(
            new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024), Encoding.UTF8, leaveOpen: false);
        while (reader.BaseStream.Position < reader.BaseStream.Length)
        {
            var number = reader.ReadInt32();
            var metric = reader.ReadString();
            var day = DateOnly.FromDayNumber(reader.ReadInt32());
            var quantity = reader.ReadInt64();
            var orgUnit = reader.ReadString();
            var campaign = ReadOptional(reader);
            var dimensions = new SortedDictionary<string, string>(StringComparer.Ordinal);
            for (var count = reader.ReadInt32(); count > 0; count--)
                dimensions[reader.ReadString()] = reader.ReadString();
            var externalId = ReadOptional(reader);
            var note = ReadOptional(reader);
            yield return new SpooledRow(number, new NewEvent(metric, day, quantity, orgUnit, campaign, dimensions, externalId, note));
        }
    }

    private static string? ReadOptional(BinaryReader reader) => reader.ReadBoolean() ? reader.ReadString() : null;
}

/// <summary>
/// The externalIds met earlier in one import, each with a fingerprint of the content now at its head and the row that put
/// it there: how a row repeating an earlier row's externalId is judged (same content: unchanged; other: a conflict, or
/// with upsert a supersede) without writing anything, so a dry run judges exactly as a real run. Kept compact (a 128-bit
/// hash per externalId, 40 bytes an entry) so a million-row file stays small in memory. One import's thread only.
/// </summary>
public sealed class FileExternalIds(int capacity)
{
    private readonly Dictionary<UInt128, (ulong Content, int Row)> _heads = new(capacity);
    private readonly XxHash3 _content = new();

    public bool TryGet(string externalId, out ulong content, out int row)
    {
        var found = _heads.TryGetValue(KeyOf(externalId), out var head);
        (content, row) = head;
        return found;
    }

    public void Set(string externalId, ulong content, int row) => _heads[KeyOf(externalId)] = (content, row);

    /// <summary>What <see cref="NewEvent.SameContentAs"/> compares, hashed: equal fingerprints, same content.</summary>
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
