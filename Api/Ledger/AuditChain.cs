using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Dapper;
using Microsoft.Data.Sqlite;
using Tally.Api.Data;

namespace Tally.Api.Ledger;

/// <summary>Who made a change: the API key (id and name), or the system itself.</summary>
public sealed record Actor(string? KeyId, string Name)
{
    public static Actor System { get; } = new(null, "system");
}

/// <summary>One stored audit entry, as the chain hashes it.</summary>
public sealed record AuditEntry(long Seq, string At, string? ActorKeyId, string? ActorName, string Action, string Entity,
    string Data, string PrevHash, string Hash);

/// <summary>
/// The tamper-evident audit log: each entry's hash is sha256(prevHash + canonical JSON of the entry).
/// The head lives in memory on LedgerWriter's thread and moves only with the rows it appends.
/// </summary>
public sealed class AuditChain
{
    public const string Genesis = "0000000000000000000000000000000000000000000000000000000000000000";

    public long HeadSeq { get; private set; }
    public string HeadHash { get; private set; } = Genesis;

    public void Load(SqliteConnection connection)
    {
        var head = connection.Query<(long Seq, string Hash)>(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").ToList();
        (HeadSeq, HeadHash) = head.Count == 1 ? head[0] : (0, Genesis);
    }

    public (long Seq, string Hash) Mark() => (HeadSeq, HeadHash);

    public void Reset((long Seq, string Hash) mark) => (HeadSeq, HeadHash) = mark;

    public const string InsertSql =
        """
        INSERT INTO audit_log (seq, at, actor_key_id, actor_name, action, entity, data, prev_hash, hash)
        VALUES ($seq, $at, $actorKeyId, $actorName, $action, $entity, $data, $prevHash, $hash)
        """;

    /// <summary>
    /// Appends an entry whose data is already canonical JSON, with a prepared <see cref="InsertSql"/>: the hash is the
    /// one <see cref="ComputeHash"/> gives, computed without parsing the data again.
    /// </summary>
    public void AppendCanonical(SqliteCommand insert, DateTimeOffset at, Actor actor, string action, string entity,
        string canonicalData)
    {
        var seq = HeadSeq + 1;
        var atText = Instant.ToStorage(at);
        var hash = ComputeHashOfCanonical(HeadHash, seq, atText, actor.KeyId, actor.Name, action, entity, canonicalData);
        insert.Bind("$seq", seq).Bind("$at", atText).Bind("$actorKeyId", actor.KeyId).Bind("$actorName", actor.Name)
            .Bind("$action", action).Bind("$entity", entity).Bind("$data", canonicalData).Bind("$prevHash", HeadHash)
            .Bind("$hash", hash).ExecuteNonQuery();
        (HeadSeq, HeadHash) = (seq, hash);
    }

    /// <summary>
    /// <see cref="ComputeHash"/> for data known to be canonical: the entry's canonical JSON is written directly, its
    /// keys in ordinal order (action, actor{keyId, name}, at, data, entity, seq), the data spliced in as it is.
    /// </summary>
    public static string ComputeHashOfCanonical(string prevHash, long seq, string at, string? actorKeyId, string? actorName,
        string action, string entity, string canonicalData)
    {
        var buffer = new ArrayBufferWriter<byte>(256 + (canonicalData.Length * 2));
        buffer.Write(Encoding.UTF8.GetBytes(prevHash));
        using (var writer = new Utf8JsonWriter(buffer))
            WriteEntry(writer, seq, at, actorKeyId, actorName, action, entity, canonicalData);
        return Convert.ToHexStringLower(SHA256.HashData(buffer.WrittenSpan));
    }

    /// <summary>
    /// The canonical JSON of an entry, keys in ordinal order, around data that is already canonical: the bytes the
    /// chain hashes after the previous hash. Appending and verification both write it here, so they cannot drift.
    /// </summary>
    public static void WriteEntry(Utf8JsonWriter writer, long seq, string at, string? actorKeyId, string? actorName,
        string action, string entity, string canonicalData)
    {
        writer.WriteStartObject();
        writer.WriteString("action", action);
        writer.WriteStartObject("actor");
        writer.WriteString("keyId", actorKeyId);
        writer.WriteString("name", actorName);
        writer.WriteEndObject();
        writer.WriteString("at", at);
        writer.WritePropertyName("data");
        writer.WriteRawValue(canonicalData, skipInputValidation: true);
        writer.WriteString("entity", entity);
        writer.WriteNumber("seq", seq);
        writer.WriteEndObject();
    }

    public void Append(SqliteConnection connection, SqliteTransaction transaction, DateTimeOffset at, Actor actor,
        string action, string entity, JsonObject data)
    {
        var entry = Seal(HeadSeq + 1, Instant.ToStorage(at), actor.KeyId, actor.Name, action, entity,
            Canonical(data), HeadHash);
        connection.Execute(
            """
            INSERT INTO audit_log (seq, at, actor_key_id, actor_name, action, entity, data, prev_hash, hash)
            VALUES (@Seq, @At, @ActorKeyId, @ActorName, @Action, @Entity, @Data, @PrevHash, @Hash)
            """, entry, transaction);
        (HeadSeq, HeadHash) = (entry.Seq, entry.Hash);
    }

    /// <summary>Builds an entry with its hash; verification recomputes exactly this from stored columns.</summary>
    public static AuditEntry Seal(long seq, string at, string? actorKeyId, string? actorName, string action, string entity,
        string data, string prevHash) =>
        new(seq, at, actorKeyId, actorName, action, entity, data, prevHash,
            ComputeHash(prevHash, seq, at, actorKeyId, actorName, action, entity, data));

    public static string ComputeHash(string prevHash, long seq, string at, string? actorKeyId, string? actorName,
        string action, string entity, string data)
    {
        var entry = new JsonObject
        {
            ["action"] = action,
            ["actor"] = new JsonObject { ["keyId"] = actorKeyId, ["name"] = actorName },
            ["at"] = at,
            ["data"] = JsonNode.Parse(data),
            ["entity"] = entity,
            ["seq"] = seq,
        };
        var bytes = Encoding.UTF8.GetBytes(prevHash + Canonical(entry));
        return Convert.ToHexStringLower(SHA256.HashData(bytes));
    }

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
