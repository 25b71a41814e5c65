using System.Text.Json;

namespace Tally.Api.Features.Audit;

/// <summary>Who made a change: the key's id and name (a null id is the server itself).</summary>
public sealed class AuditActorResponse
{
    public required string? KeyId { get; init; }
    public required string? Name { get; init; }
}

/// <summary>
/// One audit entry exactly as stored and hashed: <c>at</c> is the stored instant text (what the hash covers), so
/// anyone can recompute <c>hash</c> from the fields of this object.
/// </summary>
public sealed class AuditEntryResponse
{
    public required long Seq { get; init; }
    public required string At { get; init; }
    public required AuditActorResponse Actor { get; init; }
    public required string Action { get; init; }
    public required string Entity { get; init; }
    public required JsonElement Data { get; init; }
    public required string PrevHash { get; init; }
    public required string Hash { get; init; }
}

/// <summary>An audit_log row as Dapper reads it.</summary>
public sealed class AuditRow
{
    public const string Columns =
        "seq, at, actor_key_id AS ActorKeyId, actor_name AS ActorName, action, entity, data, prev_hash AS PrevHash, hash";

    public long Seq { get; init; }
    public string At { get; init; } = "";
    public string? ActorKeyId { get; init; }
    public string? ActorName { get; init; }
    public string Action { get; init; } = "";
    public string Entity { get; init; } = "";
    public string Data { get; init; } = "{}";
    public string PrevHash { get; init; } = "";
    public string Hash { get; init; } = "";

    public AuditEntryResponse ToResponse() => new()
    {
        Seq = Seq, At = At, Actor = new AuditActorResponse { KeyId = ActorKeyId, Name = ActorName },
        Action = Action, Entity = Entity, Data = ParseData(Data), PrevHash = PrevHash, Hash = Hash,
    };

    /// <summary>The stored data as JSON; a row damaged in the file still lists (as its raw text), and verify names it.</summary>
    private static JsonElement ParseData(string data)
    {
        try
        {
            using var document = JsonDocument.Parse(data);
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return JsonSerializer.SerializeToElement(data);
        }
    }
}
