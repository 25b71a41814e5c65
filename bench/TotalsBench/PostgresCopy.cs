using System.Diagnostics;
using System.Globalization;
using System.Text;
using Dapper;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Tally.Api.Data;
using Tally.Api.Ledger;

namespace Tally.Bench;

/// <summary>
/// Puts a ledger the <see cref="Loader"/> wrote into a SQLite file into a fresh PostgreSQL database made by the app's
/// own PostgreSQL migrations: the same tables and meaning (Api.Tests/Data/PostgresSchemaTests.cs), so every row is
/// copied as it is, table by table, with COPY. Only the seeded rows of the migrations are replaced; PostgreSQL's own
/// tables (none of SQLite's) are left as the migrations made them. Secondary indexes that no constraint needs are
/// dropped for the copy and recreated from their own definitions, foreign keys likewise (each is checked once, over the
/// whole table, when it is added again: the rows come from a database that held the same keys), identities continue
/// after the copied keys, and the database is vacuumed and analyzed as autovacuum would have done on a live server.
/// </summary>
public static class PostgresCopy
{
    /// <param name="reuse">Keep the database when it already holds as many events as the file (a rerun on one server).</param>
    public static int Run(string sqlitePath, string connectionString, bool reuse)
    {
        var clock = Stopwatch.StartNew();
        if (reuse && HoldsLedgerOf(sqlitePath, connectionString))
        {
            Console.WriteLine("  the database already holds this ledger: kept");
            return 0;
        }
        Recreate(connectionString);
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:Tally"] = connectionString })
            .Build();
        Migrator.Migrate(new Database(configuration), NullLogger.Instance);

        // The kept digest's limbs, which the loader leaves to a SQLite server's start (AsOfBackfill: SQLite has no
        // SHA-256), are added to the file first, as that start would: a PostgreSQL database never needs them filled
        // later (its migrations start without events), so its start does not look.
        using (var file = new SqliteConnection($"Data Source={sqlitePath};Pooling=False"))
        {
            file.Open();
            AsOfBackfill.FillDigests(file, NullLogger.Instance);
        }
        using var source = new SqliteConnection($"Data Source={sqlitePath};Mode=ReadOnly;Pooling=False");
        source.Open();
        var sqliteTables = source.Query<string>("SELECT name FROM sqlite_master WHERE type = 'table'").ToHashSet(StringComparer.Ordinal);

        using var target = new NpgsqlConnection(connectionString);
        target.Open();
        var tables = target.Query<string>(
            """
            SELECT table_name FROM information_schema.tables
            WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> 'schemaversions'
            ORDER BY table_name
            """).Where(sqliteTables.Contains).ToList();
        var foreignKeys = target.Query<(string Table, string Name, string Definition)>(
            """
            SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c
            WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace
            """).ToList();
        foreach (var (table, name, _) in foreignKeys)
            target.Execute($"ALTER TABLE {table} DROP CONSTRAINT {name}");
        target.Execute($"TRUNCATE {string.Join(", ", tables)}");

        foreach (var table in tables)
        {
            var indexes = target.Query<(string Name, string Definition)>(
                """
                SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
                WHERE i.indrelid = @table::regclass AND NOT i.indisprimary
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
                """, new { table }).ToList();
            foreach (var (name, _) in indexes)
                target.Execute($"DROP INDEX {name}");
            var rows = Copy(source, target, table);
            foreach (var (_, definition) in indexes)
                target.Execute(definition, commandTimeout: 0);
            if (rows > 0)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {table}: {rows:N0} rows after {clock.Elapsed.TotalSeconds:F0} s"));
        }

        foreach (var (table, column) in target.Query<(string, string)>(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' AND is_identity = 'YES'"))
        {
            target.Execute($"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), coalesce(max({column}), 0) + 1, false) FROM {table}");
        }
        foreach (var (table, name, definition) in foreignKeys)
            target.Execute($"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}", commandTimeout: 0);
        target.Execute("VACUUM (ANALYZE)", commandTimeout: 0);
        Console.WriteLine($"  vacuumed and analyzed after {clock.Elapsed.TotalSeconds:F0} s");
        return 0;
    }

    private static bool HoldsLedgerOf(string sqlitePath, string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        var name = builder.Database;
        builder.Database = "postgres";
        using (var admin = new NpgsqlConnection(builder.ConnectionString))
        {
            admin.Open();
            if (admin.ExecuteScalar<long>("SELECT count(*) FROM pg_database WHERE datname = @name", new { name }) == 0)
                return false;
        }
        using var target = new NpgsqlConnection(connectionString);
        target.Open();
        if (target.ExecuteScalar<long>("SELECT count(*) FROM information_schema.tables WHERE table_name = 'events'") == 0)
            return false;
        using var file = new SqliteConnection($"Data Source={sqlitePath};Mode=ReadOnly;Pooling=False");
        file.Open();
        return target.ExecuteScalar<long>("SELECT count(*) FROM events") == file.ExecuteScalar<long>("SELECT count(*) FROM events");
    }

    /// <summary>Drops the connection string's database if it is there and creates it empty, owned by its user.</summary>
    private static void Recreate(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        var name = builder.Database ?? throw new ArgumentException("The connection string names no database.");
        builder.Database = "postgres";
        using var admin = new NpgsqlConnection(builder.ConnectionString);
        admin.Open();
        admin.Execute($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
        admin.Execute($"CREATE DATABASE \"{name}\"");
    }

    /// <summary>Every row of one table, the target's columns by name, in COPY's text form.</summary>
    private static long Copy(SqliteConnection source, NpgsqlConnection target, string table)
    {
        var columns = target.Query<string>(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = @table ORDER BY ordinal_position",
            new { table }).ToList();
        var list = string.Join(", ", columns);
        using var read = source.CreateCommand();
        read.CommandText = $"SELECT {list} FROM {table}";
        using var reader = read.ExecuteReader();
        using var writer = target.BeginTextImport($"COPY {table} ({list}) FROM STDIN");
        var line = new StringBuilder();
        long rows = 0;
        while (reader.Read())
        {
            line.Clear();
            for (var i = 0; i < columns.Count; i++)
            {
                if (i > 0)
                    line.Append('\t');
                AppendValue(line, reader.GetValue(i));
            }
            line.Append('\n');
            writer.Write(line);
            rows++;
        }
        return rows;
    }

    private static void AppendValue(StringBuilder line, object value)
    {
        switch (value)
        {
            case DBNull:
                line.Append("\\N");
                break;
            case byte[] bytes:
                line.Append("\\\\x").Append(Convert.ToHexStringLower(bytes));
                break;
            case long number:
                line.Append(number.ToString(CultureInfo.InvariantCulture));
                break;
            case double number:
                line.Append(number.ToString("R", CultureInfo.InvariantCulture));
                break;
            default:
                foreach (var c in (string)value)
                {
                    _ = c switch
                    {
                        '\\' => line.Append("\\\\"),
                        '\t' => line.Append("\\t"),
                        '\n' => line.Append("\\n"),
                        '\r' => line.Append("\\r"),
                        _ => line.Append(c),
                    };
                }
                break;
        }
    }
}
