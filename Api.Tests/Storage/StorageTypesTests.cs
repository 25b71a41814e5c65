using Dapper;
using Microsoft.Data.Sqlite;
using Tally.Api.Data;

namespace Tally.Api.Tests.Storage;

/// <summary>Days and instants go into SQLite as the schema's fixed-width text and come back as the same values.</summary>
public sealed class StorageTypesTests
{
    private sealed class Stamped
    {
        public DateOnly Day { get; init; }
        public DateTimeOffset At { get; init; }
        public DateTimeOffset? Voided { get; init; }
    }

    [Fact]
    public void Days_and_instants_are_written_in_the_stored_form_and_read_back()
    {
        StorageTypes.Register();
        using var connection = new SqliteConnection("Data Source=:memory:");
        connection.Open();
        connection.Execute("CREATE TABLE t (day TEXT, at TEXT, voided TEXT)");
        var at = new DateTimeOffset(2025, 1, 6, 17, 30, 0, TimeSpan.FromHours(8)).AddTicks(1234567);

        connection.Execute("INSERT INTO t VALUES (@day, @at, @voided)",
            new { day = new DateOnly(2024, 3, 5), at, voided = (DateTimeOffset?)null });

        Assert.Equal(("2024-03-05", "2025-01-06T09:30:00.1234567Z"),
            connection.QuerySingle<(string, string)>("SELECT day, at FROM t"));
        var row = connection.QuerySingle<Stamped>("SELECT day AS Day, at AS At, voided AS Voided FROM t");
        Assert.Equal(new DateOnly(2024, 3, 5), row.Day);
        Assert.Equal(at, row.At);
        Assert.Equal(TimeSpan.Zero, row.At.Offset);
        Assert.Null(row.Voided);
        Assert.Equal(at, connection.ExecuteScalar<DateTimeOffset?>("SELECT at FROM t"));
        Assert.Equal(1, connection.ExecuteScalar<int>("SELECT count(*) FROM t WHERE at > @before",
            new { before = at.AddTicks(-1) }));
    }
}
