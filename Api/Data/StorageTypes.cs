using System.Data;
using Dapper;

namespace Tally.Api.Data;

/// <summary>
/// Days and instants as Dapper parameters and columns, in the forms the schema stores (<see cref="Day"/>,
/// <see cref="Instant"/>): a query passes a <see cref="DateOnly"/> or <see cref="DateTimeOffset"/> and reads one
/// back, with no hand conversion at the call site. Dapper maps both types to a DbType of its own before it looks for
/// a handler, so the built-in mapping is removed first.
/// </summary>
public static class StorageTypes
{
    private static readonly Lazy<bool> Registered = new(() =>
    {
        SqlMapper.RemoveTypeMap(typeof(DateOnly));
        SqlMapper.RemoveTypeMap(typeof(DateOnly?));
        SqlMapper.RemoveTypeMap(typeof(DateTimeOffset));
        SqlMapper.RemoveTypeMap(typeof(DateTimeOffset?));
        SqlMapper.RemoveTypeMap(typeof(bool));
        SqlMapper.RemoveTypeMap(typeof(bool?));
        SqlMapper.AddTypeHandler(new FlagHandler());
        SqlMapper.AddTypeHandler(new DayHandler());
        SqlMapper.AddTypeHandler(new InstantHandler());
        return true;
    });

    /// <summary>Registers the handlers once per process (every <see cref="Database"/> does, before it opens anything).</summary>
    public static void Register() => _ = Registered.Value;

    /// <summary>
    /// Flags are stored as integers 0 and 1 on both stores (SQLite has no boolean; PostgreSQL's columns are bigint to
    /// match); read back, a flag may also be a PostgreSQL boolean (an EXISTS).
    /// </summary>
    private sealed class FlagHandler : SqlMapper.TypeHandler<bool>
    {
        public override void SetValue(IDbDataParameter parameter, bool value)
        {
            parameter.DbType = DbType.Int64;
            parameter.Value = value ? 1L : 0L;
        }

        public override bool Parse(object value) => value is bool flag ? flag : Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture) != 0;
    }

    /// <summary>A value as the schema stores it: days and instants in their text forms, flags as 0 or 1, others as they are.</summary>
    public static object ToStorage(object? value) => value switch
    {
        null => DBNull.Value,
        DateOnly day => Day.ToStorage(day),
        DateTimeOffset instant => Instant.ToStorage(instant),
        bool flag => flag ? 1L : 0L,
        _ => value,
    };

    private sealed class DayHandler : SqlMapper.TypeHandler<DateOnly>
    {
        public override void SetValue(IDbDataParameter parameter, DateOnly value)
        {
            parameter.DbType = DbType.String;
            parameter.Value = Day.ToStorage(value);
        }

        public override DateOnly Parse(object value) => Day.FromStorage((string)value);
    }

    private sealed class InstantHandler : SqlMapper.TypeHandler<DateTimeOffset>
    {
        public override void SetValue(IDbDataParameter parameter, DateTimeOffset value)
        {
            parameter.DbType = DbType.String;
            parameter.Value = Instant.ToStorage(value);
        }

        public override DateTimeOffset Parse(object value) => Instant.FromStorage((string)value);
    }
}
