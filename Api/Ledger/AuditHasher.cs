using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Tally.Api.Ledger;

/// <summary>
/// The one audit hash: sha256(prevHash + the entry's canonical JSON), the entry written with its keys in ordinal order
/// (action, actor{keyId, name}, at, data, entity, seq) around data that is already canonical, spliced in as it is.
/// Appending and verification both hash here, so they cannot drift. Reuses its buffers: one instance per thread.
/// </summary>
public sealed class AuditHasher
{
    private readonly ArrayBufferWriter<byte> _buffer = new(4096);
    private readonly IncrementalHash _sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    /// <summary>
    /// The entry's hash. Data is not validated: data that is not JSON cannot hash to a stored value, and may throw
    /// (<see cref="JsonException"/>, <see cref="InvalidOperationException"/>, <see cref="ArgumentException"/>).
    /// </summary>
    public string Hash(string prevHash, long seq, string at, string? actorKeyId, string? actorName, string action,
        string entity, string canonicalData)
    {
        _buffer.ResetWrittenCount();
        using (var writer = new Utf8JsonWriter(_buffer))
            WriteEntry(writer, seq, at, actorKeyId, actorName, action, entity, canonicalData);
        _sha.AppendData(Encoding.UTF8.GetBytes(prevHash));
        _sha.AppendData(_buffer.WrittenSpan);
        return Convert.ToHexStringLower(_sha.GetHashAndReset());
    }

    private static void WriteEntry(Utf8JsonWriter writer, long seq, string at, string? actorKeyId, string? actorName,
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
}
