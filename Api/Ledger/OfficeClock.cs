using System.Globalization;

namespace Tally.Api.Ledger;

/// <summary>
/// The clock in the office's time zone (<c>Tally:TimeZone</c>, an IANA name, default Asia/Shanghai): what "today" is
/// for an event's day, and how instants are written for people. Instants stored and sent as JSON stay UTC.
/// </summary>
public sealed class OfficeClock(TimeProvider utc, TimeZoneInfo zone) : TimeProvider
{
    public const string DefaultZone = "Asia/Shanghai";

    public override TimeZoneInfo LocalTimeZone => zone;

    public override DateTimeOffset GetUtcNow() => utc.GetUtcNow();

    public override long TimestampFrequency => utc.TimestampFrequency;

    public override long GetTimestamp() => utc.GetTimestamp();

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        utc.CreateTimer(callback, state, dueTime, period);

    /// <summary>The zone named in configuration; a name this machine does not know stops the start with that name.</summary>
    public static TimeZoneInfo ZoneOf(string? name)
    {
        var id = string.IsNullOrWhiteSpace(name) ? DefaultZone : name.Trim();
        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById(id);
        }
        catch (Exception ex) when (ex is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            throw new InvalidOperationException(
                $"Tally:TimeZone '{id}' is not a time zone this machine knows: give an IANA name such as {DefaultZone}.", ex);
        }
    }

    /// <summary>Today in <paramref name="clock"/>'s zone.</summary>
    public static DateOnly Today(TimeProvider clock) => DateOnly.FromDateTime(clock.GetLocalNow().DateTime);

    /// <summary>An instant as people in the office read it: 2026年12月2日 11:15.</summary>
    public static string ForPeople(TimeProvider clock, DateTimeOffset instant) =>
        TimeZoneInfo.ConvertTime(instant, clock.LocalTimeZone).ToString("yyyy年M月d日 HH:mm", CultureInfo.InvariantCulture);

    /// <summary>The zone's name as the office says it: 北京时间 for China's zone, else its IANA name.</summary>
    public static string ZoneName(TimeProvider clock) => clock.LocalTimeZone.Id switch
    {
        "Asia/Shanghai" or "Asia/Chongqing" or "Asia/Harbin" or "Asia/Urumqi" or "PRC" or "China Standard Time" => "北京时间",
        var id => id,
    };
}
