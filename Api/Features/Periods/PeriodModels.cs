using Dapper;
using System.Data.Common;
using Tally.Api.Data;

namespace Tally.Api.Features.Periods;

/// <summary>A year of the ledger and its lock (CONTRACT.md, Periods).</summary>
public sealed class PeriodResponse
{
    public required int Year { get; init; }
    public required bool Locked { get; init; }
    public required DateTimeOffset? LockedAt { get; init; }
    public required string? LockReason { get; init; }
}

/// <summary>A periods row as stored, or the open period of a year that has none.</summary>
public sealed class PeriodRow
{
    public const string Columns = "year, locked, locked_at AS LockedAt, lock_reason AS LockReason";

    public int Year { get; init; }
    public bool Locked { get; init; }
    public DateTimeOffset? LockedAt { get; init; }
    public string? LockReason { get; init; }

    public PeriodResponse ToResponse() => new()
    {
        Year = Year, Locked = Locked, LockedAt = LockedAt, LockReason = LockReason,
    };

    public static PeriodRow Find(DbConnection connection, DbTransaction transaction, int year) =>
        connection.QueryFirstOrDefault<PeriodRow>($"SELECT {Columns} FROM periods WHERE year = @year", new { year }, transaction)
        ?? new PeriodRow { Year = year };
}
