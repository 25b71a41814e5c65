using Dapper;
using System.Data.Common;

namespace Tally.Api.Ledger;

/// <summary>An events row as stored; read by the ledger and every reader of events.</summary>
public sealed class EventRow
{
    public const string Columns =
        """
        id, metric, occurred_on AS OccurredOn, quantity, org_unit AS OrgUnit, campaign, dimensions,
        external_id AS ExternalId, note, source, recorded_at AS RecordedAt, voided_at AS VoidedAt,
        void_reason AS VoidReason, supersedes, superseded_by AS SupersededBy, audit_seq AS AuditSeq
        """;

    public string Id { get; init; } = "";
    public string Metric { get; init; } = "";
    public string OccurredOn { get; init; } = "";
    public long Quantity { get; init; }
    public string OrgUnit { get; init; } = "";
    public string? Campaign { get; init; }
    public string Dimensions { get; init; } = "{}";
    public string? ExternalId { get; init; }
    public string? Note { get; init; }
    public string Source { get; init; } = "";
    public string RecordedAt { get; init; } = "";
    public string? VoidedAt { get; init; }
    public string? VoidReason { get; init; }
    public string? Supersedes { get; init; }
    public string? SupersededBy { get; init; }

    /// <summary>The audit entry that records the event's creation (0 for a row that names none).</summary>
    public long AuditSeq { get; init; }

    /// <summary>Reads a row selected with <see cref="Columns"/>, in that order, straight from a data reader.</summary>
    public static EventRow Read(System.Data.Common.DbDataReader reader) => new()
    {
        Id = reader.GetString(0), Metric = reader.GetString(1), OccurredOn = reader.GetString(2), Quantity = reader.GetInt64(3),
        OrgUnit = reader.GetString(4), Campaign = NullableString(reader, 5), Dimensions = reader.GetString(6),
        ExternalId = NullableString(reader, 7), Note = NullableString(reader, 8), Source = reader.GetString(9),
        RecordedAt = reader.GetString(10), VoidedAt = NullableString(reader, 11), VoidReason = NullableString(reader, 12),
        Supersedes = NullableString(reader, 13), SupersededBy = NullableString(reader, 14),
        AuditSeq = reader.IsDBNull(15) ? 0 : reader.GetInt64(15),
    };

    private static string? NullableString(System.Data.Common.DbDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    /// <summary>The org unit of an event, or null when the id names nothing.</summary>
    public static async Task<string?> OrgUnitOfAsync(DbConnection connection, string id, CancellationToken ct) =>
        await connection.ExecuteScalarAsync<string?>(new CommandDefinition(
            "SELECT org_unit FROM events WHERE id = @id", new { id }, cancellationToken: ct));

    public static EventRow? Find(DbConnection connection, string id, DbTransaction? transaction = null) =>
        connection.QueryFirstOrDefault<EventRow>($"SELECT {Columns} FROM events WHERE id = @id", new { id }, transaction);

    public static async Task<EventRow?> FindAsync(DbConnection connection, string id, CancellationToken ct) =>
        await connection.QueryFirstOrDefaultAsync<EventRow>(new CommandDefinition(
            $"SELECT {Columns} FROM events WHERE id = @id", new { id }, cancellationToken: ct));
}
