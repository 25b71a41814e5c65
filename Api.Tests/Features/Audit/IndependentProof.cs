using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace Tally.Api.Tests.Features.Audit;

/// <summary>
/// An auditor's own check of an inclusion proof, written from CONTRACT.md and RFC 6962/9162/8785 alone, sharing no code
/// with the server: the leaf's canonical JSON, SHA-256 with the 0x00 and 0x01 prefixes, the RFC 9162 folding loop,
/// and the entry's hash over its canonical JSON.
/// </summary>
public static class IndependentProof
{
    public static readonly string[] LeafFields =
        ["id", "metric", "occurredOn", "quantity", "orgUnit", "campaign", "dimensions", "externalId", "note", "source", "recordedAt", "supersedes"];

    /// <summary>RFC 8785 of exactly the leaf fields of an event as the API shows it.</summary>
    public static string LeafJson(JsonObject evt)
    {
        var leaf = new SortedDictionary<string, JsonNode?>(StringComparer.Ordinal);
        foreach (var field in LeafFields)
        {
            if (!evt.TryGetPropertyValue(field, out var value))
                throw new InvalidOperationException($"The event has no {field}.");
            leaf[field] = value;
        }
        var text = new StringBuilder();
        WriteObject(text, leaf);
        return text.ToString();
    }

    public static byte[] Leaf(string leafJson) => SHA256.HashData([0x00, .. Encoding.UTF8.GetBytes(leafJson)]);

    public static byte[] Node(byte[] left, byte[] right) => SHA256.HashData([0x01, .. left, .. right]);

    public static string Hex(byte[] bytes) => Convert.ToHexStringLower(bytes);

    /// <summary>RFC 9162 section 2.1.3.2: the root the path leads to, or null when it does not fit index and size.</summary>
    public static byte[]? Fold(byte[] leafHash, long index, long size, IEnumerable<string> path)
    {
        if (index >= size)
            return null;
        var (fn, sn, r) = (index, size - 1, leafHash);
        foreach (var hex in path)
        {
            var p = Convert.FromHexString(hex);
            if (sn == 0)
                return null;
            if (fn % 2 == 1 || fn == sn)
            {
                r = Node(p, r);
                while (fn % 2 == 0 && fn != 0)
                {
                    fn /= 2;
                    sn /= 2;
                }
            }
            else
            {
                r = Node(r, p);
            }
            fn /= 2;
            sn /= 2;
        }
        return sn == 0 ? r : null;
    }

    /// <summary>
    /// Checks a GET /events/{id}/proof answer the way an auditor would; returns why it fails, or null when it holds:
    /// the leaf rebuilt from event is leafHash, the path folds to entry.data.root, and the entry's hash is
    /// sha256(prevHash + canonical JSON of {action, actor, at, data, entity, seq}).
    /// </summary>
    public static string? Check(JsonNode proof)
    {
        var leaf = Leaf(LeafJson(proof["event"]!.AsObject()));
        if (Hex(leaf) != proof["leafHash"]!.GetValue<string>())
            return "the leaf rebuilt from event is not leafHash";
        var entry = proof["entry"]!;
        var root = Fold(leaf, proof["index"]!.GetValue<long>(), proof["size"]!.GetValue<long>(),
            proof["path"]!.AsArray().Select(p => p!.GetValue<string>()));
        if (root is null || Hex(root) != entry["data"]!["root"]!.GetValue<string>())
            return "the path does not lead to the entry's root";
        if (entry["seq"]!.GetValue<long>() != proof["auditSeq"]!.GetValue<long>())
            return "the entry is not the event's auditSeq";
        var sealedEntry = new JsonObject
        {
            ["action"] = entry["action"]!.DeepClone(), ["actor"] = entry["actor"]!.DeepClone(), ["at"] = entry["at"]!.DeepClone(),
            ["data"] = entry["data"]!.DeepClone(), ["entity"] = entry["entity"]!.DeepClone(), ["seq"] = entry["seq"]!.DeepClone(),
        };
        var hash = Hex(SHA256.HashData(Encoding.UTF8.GetBytes(entry["prevHash"]!.GetValue<string>() + EntryJson(sealedEntry))));
        return hash == entry["hash"]!.GetValue<string>() ? null : "the entry's hash does not match its content";
    }

    /// <summary>
    /// The entry's canonical JSON as GET /audit documents it: keys sorted, no spaces, non-ASCII, the quote and the
    /// HTML-sensitive characters as \uXXXX (upper-case hex).
    /// </summary>
    private static string EntryJson(JsonNode node) => node switch
    {
        JsonObject o => "{" + string.Join(",", o.OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => AsciiString(p.Key) + ":" + (p.Value is null ? "null" : EntryJson(p.Value)))) + "}",
        JsonArray a => "[" + string.Join(",", a.Select(i => i is null ? "null" : EntryJson(i))) + "]",
        JsonValue v when v.TryGetValue<string>(out var s) => AsciiString(s),
        JsonValue v => v.ToJsonString(),
        _ => throw new InvalidOperationException(),
    };

    private static string AsciiString(string s)
    {
        var text = new StringBuilder("\"");
        foreach (var c in s)
            text.Append(c is '"' or '\\' or '<' or '>' or '&' or '\'' or '+' or '`' || c < 0x20 || c > 0x7e
                ? c switch { '\\' => "\\\\", '\n' => "\\n", '\r' => "\\r", '\t' => "\\t", '\b' => "\\b", '\f' => "\\f",
                    _ => "\\u" + ((int)c).ToString("X4", CultureInfo.InvariantCulture) }
                : c.ToString());
        return text.Append('"').ToString();
    }

    private static void WriteObject(StringBuilder text, SortedDictionary<string, JsonNode?> members)
    {
        text.Append('{');
        var first = true;
        foreach (var (key, value) in members)
        {
            if (!first)
                text.Append(',');
            first = false;
            WriteString(text, key);
            text.Append(':');
            WriteValue(text, value);
        }
        text.Append('}');
    }

    private static void WriteValue(StringBuilder text, JsonNode? value)
    {
        switch (value)
        {
            case null:
                text.Append("null");
                break;
            case JsonObject o:
                WriteObject(text, new SortedDictionary<string, JsonNode?>(o.ToDictionary(p => p.Key, p => p.Value), StringComparer.Ordinal));
                break;
            case JsonValue v when v.TryGetValue<string>(out var s):
                WriteString(text, s);
                break;
            case JsonValue v when v.TryGetValue<long>(out var n):
                text.Append(n.ToString(CultureInfo.InvariantCulture));
                break;
            default:
                throw new InvalidOperationException($"No leaf value looks like {value.ToJsonString()}.");
        }
    }

    /// <summary>A string as ECMAScript's JSON.stringify writes it: only ", \ and control characters escaped.</summary>
    private static void WriteString(StringBuilder text, string s)
    {
        text.Append('"');
        foreach (var c in s)
        {
            text.Append(c switch
            {
                '"' => "\\\"", '\\' => "\\\\", '\b' => "\\b", '\f' => "\\f", '\n' => "\\n", '\r' => "\\r", '\t' => "\\t",
                < ' ' => "\\u" + ((int)c).ToString("x4", CultureInfo.InvariantCulture),
                _ => c.ToString(),
            });
        }
        text.Append('"');
    }
}
