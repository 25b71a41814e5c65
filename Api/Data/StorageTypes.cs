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
        SqlMapper.AddTypeHandler(new DayHandler());
        SqlMapper.AddTypeHandler(new InstantHandler());
        return true;
    });

    /// <summary>Registers the handlers once per process (every <see cref="Database"/> does, before it opens anything).</summary>
    public static void Register() => _ = Registered.Value;

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
