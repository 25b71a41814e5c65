using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Tally.Api.Features.Reports;

/// <summary>
/// The annual report's digest: "sha256:" and the lowercase hex SHA-256 of, for each counted event in ordinal
/// (byte) order of its id, the UTF-8 bytes of: the id, a tab (0x09), the quantity in decimal ASCII digits, a line
/// feed (0x0A). No events: the SHA-256 of no bytes. Anyone holding the same events can recompute it.
/// </summary>
public sealed class ReportDigest : IDisposable
{
    public const string Prefix = "sha256:";

    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private string? _lastId;

    public void Add(string id, long quantity)
    {
        if (_lastId is not null && string.CompareOrdinal(_lastId, id) >= 0)
            throw new InvalidOperationException("Digest events must come in ascending id order.");
        _lastId = id;
        // Called once per counted event (millions for a large unit's year): no allocation beyond the id itself.
        var size = Encoding.UTF8.GetMaxByteCount(id.Length) + 22;
        var rented = size > 512 ? ArrayPool<byte>.Shared.Rent(size) : null;
        Span<byte> line = rented ?? stackalloc byte[512];
        var length = Encoding.UTF8.GetBytes(id, line);
        line[length++] = (byte)'\t';
        quantity.TryFormat(line[length..], out var digits, provider: CultureInfo.InvariantCulture);
        length += digits;
        line[length++] = (byte)'\n';
        _hash.AppendData(line[..length]);
        if (rented is not null)
            ArrayPool<byte>.Shared.Return(rented);
    }

    public string Finish() => Prefix + Convert.ToHexStringLower(_hash.GetHashAndReset());

    /// <summary>The digest of the events added so far; more may be added after it (all with greater ids).</summary>
    public string Current() => Prefix + Convert.ToHexStringLower(_hash.GetCurrentHash());

    public void Dispose() => _hash.Dispose();
}
