using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Dapper;
using System.Data.Common;
using Tally.Api.Data;

namespace Tally.Api.Ledger;

/// <summary>One stored audit entry, as the chain hashes it.</summary>
public sealed record AuditEntry(long Seq, string At, string? ActorKeyId, string? ActorName, string Action, string Entity,
    string Data, string PrevHash, string Hash);

/// <summary>
/// The tamper-evident audit log: each entry's hash is sha256(prevHash + canonical JSON of the entry).
/// The head lives in memory on LedgerWriter's thread and moves only with the rows it appends.
/// </summary>
public sealed class AuditChain
{
    private readonly AuditHasher _hasher = new();

    public const string Genesis = "0000000000000000000000000000000000000000000000000000000000000000";

    public long HeadSeq { get; private set; }
    public string HeadHash { get; private set; } = Genesis;

    public void Load(DbConnection connection, DbTransaction? transaction = null)
    {
        var head = connection.Query<(long Seq, string Hash)>(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", transaction: transaction).ToList();
        (HeadSeq, HeadHash) = head.Count == 1 ? head[0] : (0, Genesis);
    }

    public (long Seq, string Hash) Mark() => (HeadSeq, HeadHash);

    public void Reset((long Seq, string Hash) mark) => (HeadSeq, HeadHash) = mark;

    public const string InsertSql =
        """
        INSERT INTO audit_log (seq, at, actor_key_id, actor_name, action, entity, data, prev_hash, hash)
        VALUES (@seq, @at, @actorKeyId, @actorName, @action, @entity, @data, @prevHash, @hash)
        """;

    /// <summary>
    /// Appends an entry whose data is already canonical JSON (see <see cref="Canonical"/>) with a prepared
    /// <see cref="InsertSql"/>: the one INSERT of the audit log.
    /// </summary>
    internal void Append(HeldWrite insert, DateTimeOffset at, Actor actor, string action, string entity, string canonicalData)
    {
        var seq = HeadSeq + 1;
        var atText = Instant.ToStorage(at);
        var hash = _hasher.Hash(HeadHash, seq, atText, actor.KeyId, actor.Name, action, entity, canonicalData);
        insert.Bind("@seq", seq).Bind("@at", atText).Bind("@actorKeyId", actor.KeyId).Bind("@actorName", actor.Name)
            .Bind("@action", action).Bind("@entity", entity).Bind("@data", canonicalData).Bind("@prevHash", HeadHash)
            .Bind("@hash", hash).Send();
        (HeadSeq, HeadHash) = (seq, hash);
    }

    /// <summary>The hash of an entry whose data is canonical JSON (<see cref="AuditHasher"/>).</summary>
    public static string ComputeHashOfCanonical(string prevHash, long seq, string at, string? actorKeyId, string? actorName,
        string action, string entity, string canonicalData)
    {
        return new AuditHasher().Hash(prevHash, seq, at, actorKeyId, actorName, action, entity, canonicalData);
    }

    /// <summary>Builds an entry with its hash; verification recomputes exactly this from stored columns.</summary>
    public static AuditEntry Seal(long seq, string at, string? actorKeyId, string? actorName, string action, string entity,
        string data, string prevHash) =>
        new(seq, at, actorKeyId, actorName, action, entity, data, prevHash,
            ComputeHash(prevHash, seq, at, actorKeyId, actorName, action, entity, data));

    /// <summary>The exact definition for any stored data: made canonical first, then hashed as <see cref="ComputeHashOfCanonical"/>.</summary>
    public static string ComputeHash(string prevHash, long seq, string at, string? actorKeyId, string? actorName,
        string action, string entity, string data) =>
        ComputeHashOfCanonical(prevHash, seq, at, actorKeyId, actorName, action, entity, Canonical(JsonNode.Parse(data)));

    /// <summary>Canonical JSON: object keys sorted by ordinal, no insignificant white space, default escaping.</summary>
    public static string Canonical(JsonNode? node)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
            WriteCanonical(writer, node);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteCanonical(Utf8JsonWriter writer, JsonNode? node)
    {
        switch (node)
        {
            case null:
                writer.WriteNullValue();
                break;
            case JsonObject obj:
                writer.WriteStartObject();
                foreach (var (key, value) in obj.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(key);
                    WriteCanonical(writer, value);
                }
                writer.WriteEndObject();
                break;
            case JsonArray array:
                writer.WriteStartArray();
                foreach (var item in array)
                    WriteCanonical(writer, item);
                writer.WriteEndArray();
                break;
            default:
                node.WriteTo(writer);
                break;
        }
    }

    public static JsonObject ToJsonObject<T>(T value) =>
        JsonSerializer.SerializeToNode(value, TallyJson.Options) as JsonObject ?? [];
}
