namespace Tally.Api.Data;

/// <summary>
/// What SQLite and PostgreSQL spell differently, for the queries features build. Everything else they write once, in
/// the SQL both understand (standard joins and aggregates, <c>ON CONFLICT</c>, <c>LIMIT</c>, <c>substr</c>, <c>||</c>).
/// </summary>
public sealed class Sql(StorageProvider provider)
{
    private static readonly Sql Sqlite = new(StorageProvider.Sqlite);
    private static readonly Sql Postgres = new(StorageProvider.Postgres);

    private readonly bool _postgres = provider == StorageProvider.Postgres;

    public static Sql Of(StorageProvider provider) => provider == StorageProvider.Postgres ? Postgres : Sqlite;

    /// <summary>The dialect of an open connection of either store.</summary>
    public static Sql Of(System.Data.Common.DbConnection connection) =>
        connection is Microsoft.Data.Sqlite.SqliteConnection ? Sqlite : Postgres;

    /// <summary>
    /// <paramref name="column"/> in a term that must not choose an index: SQLite plans without statistics, and a unary
    /// <c>+</c> keeps it on the index the query was written for; PostgreSQL plans from its statistics and is left to.
    /// </summary>
    public string Unindexed(string column) => _postgres ? column : "+" + column;

    /// <summary><see cref="Unindexed"/> when <paramref name="unindexed"/>, else the column itself.</summary>
    public string Column(string column, bool unindexed) => unindexed ? Unindexed(column) : column;

    /// <summary>
    /// <paramref name="column"/> is one of the list parameter <paramref name="parameter"/>: Dapper spreads the list into
    /// SQLite's <c>IN (…)</c>, and hands PostgreSQL one array, which <c>= ANY</c> reads.
    /// </summary>
    public string InList(string column, string parameter) =>
        _postgres ? $"{column} = ANY(@{parameter})" : $"{column} IN @{parameter}";

    /// <summary>The text of one key of a JSON object column, the key named by parameter <paramref name="parameter"/> (<see cref="JsonKey"/>).</summary>
    public string JsonText(string column, string parameter) =>
        _postgres ? $"({column}::jsonb ->> @{parameter})" : $"json_extract({column}, @{parameter})";

    /// <summary>The value to bind for <see cref="JsonText"/>'s parameter: a JSON path in SQLite, the bare key in PostgreSQL.</summary>
    public string JsonKey(string key) => _postgres ? key : $"$.\"{key}\"";

    /// <summary>The larger of two values of one row (SQLite's two-argument max, PostgreSQL's greatest).</summary>
    public string Greatest(string left, string right) => _postgres ? $"greatest({left}, {right})" : $"max({left}, {right})";

    /// <summary>The smaller of two values of one row.</summary>
    public string Least(string left, string right) => _postgres ? $"least({left}, {right})" : $"min({left}, {right})";
}
