using Dapper;
using Microsoft.Extensions.Configuration;
using Npgsql;
using Tally.Api.Data;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Data;

/// <summary>
/// migrations/postgresql against a real server: applied to a fresh schema they leave the same tables, columns,
/// nullability, keys, indexes and seeded catalog as SQLite's migrations leave (the fixture's database), and the
/// metric history is kept by the same rule. Runs when TALLY_TEST_POSTGRES holds an Npgsql connection string
/// (`source .ci/postgres start` sets it); skips otherwise, unless TALLY_REQUIRE_POSTGRES=1 (CI sets both).
/// </summary>
public sealed class PostgresSchemaTests(TallyApp app) : IClassFixture<TallyApp>
{
    private static readonly string[] CatalogTables = ["org_units", "org_unit_closure", "metrics", "metric_history", "campaigns"];

    private static string ServerOrSkip()
    {
        // They compare PostgreSQL's schema with the SQLite database of the suite's app: the SQLite pass runs them.
        TestStore.SkipUnlessSqlite("compares with the SQLite schema; the SQLite pass of the suite runs it");
        var connectionString = Environment.GetEnvironmentVariable("TALLY_TEST_POSTGRES");
        if (string.IsNullOrEmpty(connectionString))
        {
            Assert.False(Environment.GetEnvironmentVariable("TALLY_REQUIRE_POSTGRES") == "1", "TALLY_TEST_POSTGRES is required but not set.");
            Assert.Skip("TALLY_TEST_POSTGRES is not set (source .ci/postgres start); CI runs these tests.");
        }
        return connectionString;
    }

    /// <summary>A connection string whose search_path is a new, empty schema of its own.</summary>
    private static string FreshSchema(string server)
    {
        var schema = "t_" + Guid.NewGuid().ToString("N");
        using (var connection = new NpgsqlConnection(server))
        {
            connection.Open();
            connection.Execute($"CREATE SCHEMA {schema}");
        }
        return new NpgsqlConnectionStringBuilder(server) { SearchPath = schema }.ConnectionString;
    }

    [Fact]
    public void The_postgresql_migrations_leave_the_tables_columns_keys_and_indexes_sqlite_has()
    {
        var postgres = FreshSchema(ServerOrSkip());
        Assert.Equal(PostgresMigrator.ScriptNames, PostgresMigrator.Migrate(postgres));
        Assert.Empty(PostgresMigrator.Migrate(postgres)); // applied once

        using var sqlite = app.OpenDatabase();
        using var pg = new NpgsqlConnection(postgres);
        pg.Open();
        var schema = pg.ExecuteScalar<string>("SELECT current_schema()");

        var sqliteTables = sqlite.Query<string>(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'SchemaVersions' ORDER BY name").ToList();
        // import_staged_events: on SQLite a TEMP table of the one writer's connection, here one table every process shares.
        var pgTables = pg.Query<string>(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = @schema AND table_name NOT IN ('schemaversions', 'import_staged_events') ORDER BY table_name COLLATE \"C\"",
            new { schema }).ToList();
        Assert.Equal(sqliteTables, pgTables);

        foreach (var table in sqliteTables)
        {
            var sqliteColumns = sqlite.Query<(string Name, long NotNull, long Key)>(
                    $"SELECT name, \"notnull\", pk FROM pragma_table_info('{table}') ORDER BY cid")
                .Select(c => (c.Name, NotNull: c.NotNull == 1 || c.Key > 0, c.Key > 0)).ToList();
            var pgColumns = pg.Query<(string Name, string Nullable, bool Key)>(
                """
                SELECT c.column_name, c.is_nullable,
                       EXISTS (SELECT 1 FROM information_schema.key_column_usage k
                               JOIN information_schema.table_constraints t ON t.constraint_name = k.constraint_name
                                AND t.table_schema = k.table_schema AND t.constraint_type = 'PRIMARY KEY'
                               WHERE k.table_schema = c.table_schema AND k.table_name = c.table_name AND k.column_name = c.column_name)
                FROM information_schema.columns c WHERE c.table_schema = @schema AND c.table_name = @table ORDER BY c.ordinal_position
                """, new { schema, table }).Select(c => (c.Name, NotNull: c.Nullable == "NO", c.Key)).ToList();
            Assert.True(sqliteColumns.SequenceEqual(pgColumns), $"{table}: SQLite {string.Join(", ", sqliteColumns)} / PostgreSQL {string.Join(", ", pgColumns)}");
        }

        var sqliteIndexes = sqlite.Query<string>(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex_%' ORDER BY name").ToList();
        var pgIndexes = pg.Query<string>(
            """
            SELECT i.indexname FROM pg_indexes i
            WHERE i.schemaname = @schema AND i.tablename NOT IN ('schemaversions', 'import_staged_events')
              AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conname = i.indexname)
            ORDER BY i.indexname COLLATE "C"
            """, new { schema }).ToList();
        Assert.Equal(sqliteIndexes, pgIndexes);
    }

    [Fact]
    public void The_seeded_catalog_is_the_same_and_a_metric_change_keeps_its_history()
    {
        var postgres = FreshSchema(ServerOrSkip());
        PostgresMigrator.Migrate(postgres);
        using var pg = new NpgsqlConnection(postgres);
        pg.Open();
        var fresh = Path.Combine(Path.GetTempPath(), "tally-tests", "pg-seed-" + Guid.NewGuid().ToString("N") + ".db");
        Directory.CreateDirectory(Path.GetDirectoryName(fresh)!);
        try
        {
            var configuration = new Microsoft.Extensions.Configuration.ConfigurationBuilder()
                .AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:Tally"] = $"Data Source={fresh}" }).Build();
            Migrator.Migrate(new Database(configuration), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
            using var sqlite = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={fresh}");
            sqlite.Open();
            foreach (var table in CatalogTables)
            {
                static string Rows(IEnumerable<dynamic> rows) => string.Join("\n", rows
                    .Select(r => string.Join("|", ((IDictionary<string, object?>)r).Values.Select(v => v switch
                    {
                        null => "∅",
                        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
                        _ => v.ToString(),
                    }))).Order(StringComparer.Ordinal));
                Assert.Equal(Rows(sqlite.Query($"SELECT * FROM {table}")), Rows(pg.Query($"SELECT * FROM {table}")));
            }
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            File.Delete(fresh);
        }

        pg.Execute("UPDATE metrics SET name = '约谈网站', updated_at = '2026-01-05T08:00:00.0000000Z' WHERE code = 'accounts.interviewed'");
        Assert.Equal("约谈网站", pg.ExecuteScalar<string>(
            "SELECT name FROM metric_history WHERE code = 'accounts.interviewed' AND valid_from = '2026-01-05T08:00:00.0000000Z'"));
        // Text orders by code point whatever the server's locale, as in SQLite.
        Assert.Equal(["B", "a", "é"], pg.Query<string>("SELECT v::ctext FROM (VALUES ('a'), ('é'), ('B')) t(v) ORDER BY 1").ToList());
    }
}
