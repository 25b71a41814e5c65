using System.Text;
using Tally.Api.Ledger;

namespace Tally.Api.Features.Imports;

/// <summary>A checked row on its way to the ledger: its number in the file, the event it becomes, and where it is spooled.</summary>
public readonly record struct SpooledRow(int Number, NewEvent Event, long Offset);

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
        using var reader = Open(path);
        while (reader.BaseStream.Position < reader.BaseStream.Length)
        {
            var offset = reader.BaseStream.Position;
            var (number, input) = ReadRow(reader);
            yield return new SpooledRow(number, input, offset);
        }
    }

    /// <summary>A reader for <see cref="ReadAt"/>: an earlier row read again by its offset.</summary>
    public static BinaryReader Open(string path) =>
        new(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024), Encoding.UTF8, leaveOpen: false);

    public static NewEvent ReadAt(BinaryReader reader, long offset)
    {
        reader.BaseStream.Position = offset;
        return ReadRow(reader).Event;
    }

    private static (int Number, NewEvent Event) ReadRow(BinaryReader reader)
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
        return (number, new NewEvent(metric, day, quantity, orgUnit, campaign, dimensions, externalId, note));
    }

    private static string? ReadOptional(BinaryReader reader) => reader.ReadBoolean() ? reader.ReadString() : null;
}
