using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Tally.Api.Data;
using Tally.Api.Ledger;

namespace Tally.Api.Features.Imports;

/// <summary>
/// The externalId of an import row that gives none (CONTRACT.md, Imports): <c>&lt;name&gt;:&lt;content&gt;:&lt;n&gt;</c>, where
/// content is the first 16 hex digits of SHA-256 over the row's identity (metric, day, org unit, campaign and
/// dimensions, all as codes: see <see cref="ContentHash"/>) and n counts the rows of the same identity before it in
/// the file (0 for the first). Quantity and note are not identity: a row whose quantity was edited is the same row,
/// so an upsert supersedes it and a create-mode import reports a conflict. Inserting, deleting or moving other rows
/// changes no row's id. Memory: one 64-bit hash and a count per distinct identity (about 24 bytes each in the
/// dictionary, so some 24 MB for a million distinct rows). One import's thread only.
/// </summary>
public sealed class ImportRowIdentity(string name)
{
    private readonly Dictionary<ulong, int> _seen = [];

    /// <summary>The externalId of the next row with this identity hash, counting it.</summary>
    public string Next(ulong content)
    {
        ref var count = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_seen, content, out _);
        var id = string.Create(CultureInfo.InvariantCulture, $"{name}:{content:x16}:{count}");
        count++;
        return id;
    }

    /// <summary>
    /// The first 8 bytes (big-endian) of SHA-256 over the UTF-8 of metric, occurredOn (yyyy-MM-dd), orgUnit, campaign
    /// (empty when none) and the dimensions as a JSON object of codes with keys in ordinal order ({} when none),
    /// joined by line feeds: codes hold no line feed, so no two identities share a text.
    /// </summary>
    public static ulong ContentHash(NewEvent input)
    {
        var text = string.Join('\n', input.Metric, Day.ToStorage(input.OccurredOn), input.OrgUnit, input.Campaign ?? "",
            input.DimensionsJson);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(text), hash);
        return BinaryPrimitives.ReadUInt64BigEndian(hash);
    }
}
