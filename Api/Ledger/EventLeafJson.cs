using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Tally.Api.Ledger;

/// <summary>
/// An event's leaf in its audit entry's Merkle tree (CONTRACT.md, Audit): the RFC 8785 canonical JSON of its fields as
/// created — id, metric, occurredOn, quantity, orgUnit, campaign, dimensions, externalId, note, source, recordedAt,
/// supersedes — keys sorted by UTF-16 code units, no white space, strings escaped only where JSON requires it (quote,
/// backslash, control characters; everything else, Chinese included, as its UTF-8 bytes), nulls written.
/// </summary>
public static class EventLeafJson
{
    /// <summary>The leaf fields, in the order RFC 8785 writes them (ordinal order of their names).</summary>
    public static readonly IReadOnlyList<string> Fields =
    [
        "campaign", "dimensions", "externalId", "id", "metric", "note", "occurredOn", "orgUnit", "quantity", "recordedAt",
        "source", "supersedes",
    ];

    public static byte[] Bytes(EventRow row)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        Write(row, buffer);
        return buffer.WrittenSpan.ToArray();
    }

    public static string Text(EventRow row) => Encoding.UTF8.GetString(Bytes(row));

    /// <summary>The leaf hash SHA-256(0x00 ‖ leaf JSON), written with a caller's reusable buffer.</summary>
    public static byte[] LeafHash(EventRow row, ArrayBufferWriter<byte> buffer)
    {
        buffer.ResetWrittenCount();
        buffer.GetSpan(1)[0] = 0x00;
        buffer.Advance(1);
        Write(row, buffer);
        return SHA256.HashData(buffer.WrittenSpan);
    }

    public static void Write(EventRow row, IBufferWriter<byte> output)
    {
        var w = new Writer(output);
        w.Raw("{\"campaign\":");
        w.StringOrNull(row.Campaign);
        w.Raw(",\"dimensions\":");
        WriteDimensions(ref w, row.Dimensions);
        w.Raw(",\"externalId\":");
        w.StringOrNull(row.ExternalId);
        w.Raw(",\"id\":");
        w.StringOrNull(row.Id);
        w.Raw(",\"metric\":");
        w.StringOrNull(row.Metric);
        w.Raw(",\"note\":");
        w.StringOrNull(row.Note);
        w.Raw(",\"occurredOn\":");
        w.StringOrNull(row.OccurredOn);
        w.Raw(",\"orgUnit\":");
        w.StringOrNull(row.OrgUnit);
        w.Raw(",\"quantity\":");
        w.Raw(row.Quantity.ToString(CultureInfo.InvariantCulture));
        w.Raw(",\"recordedAt\":");
        w.StringOrNull(ApiInstant(row.RecordedAt));
        w.Raw(",\"source\":");
        w.StringOrNull(row.Source);
        w.Raw(",\"supersedes\":");
        w.StringOrNull(row.Supersedes);
        w.Raw("}");
    }

    /// <summary>The last recordedAt converted on this thread: a command's events (and a walk's runs of them) share one.</summary>
    [ThreadStatic]
    private static (string Stored, string Api)? _lastInstant;

    /// <summary>recordedAt as the API writes it; a value damaged in the file as it stands (its leaf then differs).</summary>
    private static string ApiInstant(string stored)
    {
        if (_lastInstant is { } last && string.Equals(last.Stored, stored, StringComparison.Ordinal))
            return last.Api;
        string api;
        try
        {
            api = EventFieldList.ApiInstant(stored);
        }
        catch (FormatException)
        {
            api = stored;
        }
        _lastInstant = (stored, api);
        return api;
    }

    private static void WriteDimensions(ref Writer w, string stored)
    {
        if (stored == "{}")
        {
            w.Raw("{}");
            return;
        }
        // A row damaged in the file may hold anything: what is not an object of strings is written as its text, so the
        // leaf (and the root) no longer match and verification says so.
        Dictionary<string, string>? map;
        try
        {
            map = JsonSerializer.Deserialize<Dictionary<string, string>>(stored);
        }
        catch (JsonException)
        {
            map = null;
        }
        if (map is null)
        {
            w.StringOrNull(stored);
            return;
        }
        w.Raw("{");
        var first = true;
        foreach (var key in map.Keys.Order(StringComparer.Ordinal))
        {
            if (!first)
                w.Raw(",");
            first = false;
            w.StringOrNull(key);
            w.Raw(":");
            w.StringOrNull(map[key]);
        }
        w.Raw("}");
    }

    private static bool NeedsEscaping(string value)
    {
        foreach (var c in value)
        {
            if (c < 0x20 || c == '"' || c == '\\' || char.IsSurrogate(c))
                return true;
        }
        return false;
    }

    private ref struct Writer(IBufferWriter<byte> output)
    {
        private readonly IBufferWriter<byte> _output = output;

        public readonly void Raw(string ascii)
        {
            var span = _output.GetSpan(ascii.Length);
            for (var i = 0; i < ascii.Length; i++)
                span[i] = (byte)ascii[i];
            _output.Advance(ascii.Length);
        }

        /// <summary>A JSON string as ECMAScript's JSON.stringify writes it (RFC 8785 section 3.2.2.2), or null.</summary>
        public readonly void StringOrNull(string? value)
        {
            if (value is null)
            {
                Raw("null");
                return;
            }
            if (!NeedsEscaping(value))
            {
                var plain = _output.GetSpan(Encoding.UTF8.GetMaxByteCount(value.Length) + 2);
                plain[0] = (byte)'"';
                var written = Encoding.UTF8.GetBytes(value, plain[1..]);
                plain[written + 1] = (byte)'"';
                _output.Advance(written + 2);
                return;
            }
            var text = new StringBuilder(value.Length + 8);
            text.Append('"');
            for (var i = 0; i < value.Length; i++)
            {
                var c = value[i];
                switch (c)
                {
                    case '"': text.Append("\\\""); break;
                    case '\\': text.Append("\\\\"); break;
                    case '\b': text.Append("\\b"); break;
                    case '\f': text.Append("\\f"); break;
                    case '\n': text.Append("\\n"); break;
                    case '\r': text.Append("\\r"); break;
                    case '\t': text.Append("\\t"); break;
                    default:
                        if (c < 0x20)
                            text.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                        else if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
                            text.Append(c).Append(value[++i]);
                        else if (char.IsSurrogate(c))
                            // A lone surrogate has no UTF-8 form: written escaped, as well-formed JSON.stringify does.
                            text.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                        else
                            text.Append(c);
                        break;
                }
            }
            text.Append('"');
            var s = text.ToString();
            var span = _output.GetSpan(Encoding.UTF8.GetMaxByteCount(s.Length));
            _output.Advance(Encoding.UTF8.GetBytes(s, span));
        }
    }
}
