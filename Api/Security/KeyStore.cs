using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Dapper;
using System.Data.Common;
using Tally.Api.Data;
using Tally.Api.Ledger;

namespace Tally.Api.Security;

/// <summary>An API key as the server knows it: never the secret, only its SHA-256.</summary>
public sealed record ApiKeyRecord(
    string Id, string Name, string Source, IReadOnlyList<string> Scopes, string? OrgUnit,
    DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt, byte[] KeyHash)
{
    /// <summary>The key as the audit log names who made a change.</summary>
    public Actor Actor => new(Id, Name);
}

/// <summary>
/// The keys in memory, keyed by the hash of their secret. LedgerWriter updates it right after a key commit,
/// so a revoked key is refused from the next request on. Last use is tracked here and flushed in the background.
/// </summary>
public sealed class KeyStore
{
    private ConcurrentDictionary<string, ApiKeyRecord> _byHash = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _lastUsed = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _unflushed = new(StringComparer.Ordinal);

    public const string SecretPrefix = "tly_";

    public static string NewSecret() =>
        SecretPrefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))
            .TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static byte[] Hash(string secret) => SHA256.HashData(Encoding.UTF8.GetBytes(secret));

    public void Load(DbConnection connection)
    {
        var rows = connection.Query<KeyRow>(
            """
            SELECT id, name, source, scopes, org_unit AS OrgUnit, key_hash AS KeyHash, created_at AS CreatedAt,
                   revoked_at AS RevokedAt, last_used_at AS LastUsedAt
            FROM api_keys
            """);
        var map = new ConcurrentDictionary<string, ApiKeyRecord>(StringComparer.Ordinal);
        foreach (var row in rows)
        {
            var record = row.ToRecord();
            map[Convert.ToHexString(record.KeyHash)] = record;
            if (row.LastUsedAt is { } used)
                _lastUsed[record.Id] = used;
        }
        _byHash = map;
    }

    /// <summary>Finds the key for a presented secret, comparing hashes in constant time.</summary>
    public ApiKeyRecord? Find(string secret)
    {
        var hash = Hash(secret);
        if (!_byHash.TryGetValue(Convert.ToHexString(hash), out var record))
            return null;
        return CryptographicOperations.FixedTimeEquals(hash, record.KeyHash) ? record : null;
    }

    public void Put(ApiKeyRecord record) => _byHash[Convert.ToHexString(record.KeyHash)] = record;

    public ApiKeyRecord? ById(string id) => _byHash.Values.FirstOrDefault(k => k.Id == id);

    public bool AnyActiveAdmin() => _byHash.Values.Any(k => k.RevokedAt is null && k.Scopes.Contains(ApiScopes.Admin));

    public void Touch(string keyId, DateTimeOffset at)
    {
        _lastUsed[keyId] = at;
        _unflushed[keyId] = at;
    }

    public DateTimeOffset? LastUsed(string keyId) => _lastUsed.TryGetValue(keyId, out var at) ? at : null;

    /// <summary>Takes the last-use times not yet written to the database.</summary>
    public IReadOnlyList<(string KeyId, DateTimeOffset At)> DrainUnflushed()
    {
        var taken = new List<(string, DateTimeOffset)>();
        foreach (var keyId in _unflushed.Keys)
        {
            if (_unflushed.TryRemove(keyId, out var at))
                taken.Add((keyId, at));
        }
        return taken;
    }

    private sealed class KeyRow
    {
        public string Id { get; init; } = "";
        public string Name { get; init; } = "";
        public string Source { get; init; } = "";
        public string Scopes { get; init; } = "";
        public string? OrgUnit { get; init; }
        public byte[] KeyHash { get; init; } = [];
        public DateTimeOffset CreatedAt { get; init; }
        public DateTimeOffset? RevokedAt { get; init; }
        public DateTimeOffset? LastUsedAt { get; init; }

        public ApiKeyRecord ToRecord() => new(Id, Name, Source,
            Scopes.Split(' ', StringSplitOptions.RemoveEmptyEntries), OrgUnit, CreatedAt, RevokedAt, KeyHash);
    }
}
