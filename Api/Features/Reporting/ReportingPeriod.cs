using System.Globalization;
using System.Text.RegularExpressions;
using Tally.Api.Problems;

namespace Tally.Api.Features.Reporting;

/// <summary>
/// A reporting period as the contract writes it (2024, 2024-Q3, 2024-07, matching the plan's frequency): its days,
/// its months, and when it is due. Every period is whole months, so a submission freezes (unit, metric, month) cells.
/// </summary>
public sealed partial record ReportingPeriod(string Name, DateOnly From, DateOnly To)
{
    public const string Month = "month";
    public const string Quarter = "quarter";
    public const string Year = "year";

    public static readonly string[] Frequencies = [Month, Quarter, Year];

    /// <summary>The period <paramref name="text"/> names for a plan of <paramref name="frequency"/>, or null when it names none.</summary>
    public static ReportingPeriod? TryParse(string? text, string frequency)
    {
        if (text is null)
            return null;
        var match = frequency switch
        {
            Month => MonthPattern().Match(text),
            Quarter => QuarterPattern().Match(text),
            _ => YearPattern().Match(text),
        };
        if (!match.Success)
            return null;
        var year = int.Parse(match.Groups["y"].Value, CultureInfo.InvariantCulture);
        if (year is < 2000 or > 9999)
            return null;
        var (firstMonth, months) = frequency switch
        {
            Month => (int.Parse(match.Groups["m"].Value, CultureInfo.InvariantCulture), 1),
            Quarter => ((int.Parse(match.Groups["q"].Value, CultureInfo.InvariantCulture) * 3) - 2, 3),
            _ => (1, 12),
        };
        var from = new DateOnly(year, firstMonth, 1);
        return new ReportingPeriod(text, from, from.AddMonths(months).AddDays(-1));
    }

    /// <summary>The period, or 400 on <c>period</c> saying how this plan writes its periods.</summary>
    public static ReportingPeriod Parse(string? text, string frequency) =>
        TryParse(text, frequency) ?? throw ProblemException.Validation("period", frequency switch
        {
            Month => Text.Say("该计划按月报送，period 应写作 2024-07。", "This plan reports monthly: write the period as 2024-07."),
            Quarter => Text.Say("该计划按季度报送，period 应写作 2024-Q3。", "This plan reports quarterly: write the period as 2024-Q3."),
            _ => Text.Say("该计划按年报送，period 应写作 2024。", "This plan reports yearly: write the period as 2024."),
        });

    /// <summary>The period that contains <paramref name="day"/> for a plan of <paramref name="frequency"/>.</summary>
    public static ReportingPeriod Containing(DateOnly day, string frequency) => Parse(frequency switch
    {
        Month => day.ToString("yyyy-MM", CultureInfo.InvariantCulture),
        Quarter => string.Create(CultureInfo.InvariantCulture, $"{day.Year:D4}-Q{((day.Month - 1) / 3) + 1}"),
        _ => day.Year.ToString("D4", CultureInfo.InvariantCulture),
    }, frequency);

    /// <summary>yyyy-MM of each month of the period, in order.</summary>
    public IReadOnlyList<string> Months()
    {
        var months = new List<string>(12);
        for (var day = From; day <= To; day = day.AddMonths(1))
            months.Add(day.ToString("yyyy-MM", CultureInfo.InvariantCulture));
        return months;
    }

    public string FirstMonth => From.ToString("yyyy-MM", CultureInfo.InvariantCulture);
    public string LastMonth => To.ToString("yyyy-MM", CultureInfo.InvariantCulture);

    /// <summary>The due day: <paramref name="dueDays"/> days after the period's last day.</summary>
    public DateOnly DueOn(int dueDays) => To.AddDays(dueDays);

    /// <summary>
    /// The first instant after the due day in the office's zone: a report is on time when it came before it (at or
    /// before the end of the due day, office time).
    /// </summary>
    public static DateTimeOffset EndOfDay(DateOnly day, TimeZoneInfo zone)
    {
        var midnight = day.AddDays(1).ToDateTime(TimeOnly.MinValue, DateTimeKind.Unspecified);
        // A zone whose clocks jump over midnight that day: the next day began at the first instant that exists.
        while (zone.IsInvalidTime(midnight))
            midnight = midnight.AddMinutes(15);
        return new DateTimeOffset(TimeZoneInfo.ConvertTimeToUtc(midnight, zone), TimeSpan.Zero);
    }

    [GeneratedRegex(@"^(?<y>\d{4})-(?<m>0[1-9]|1[0-2])$", RegexOptions.CultureInvariant)]
    private static partial Regex MonthPattern();

    [GeneratedRegex(@"^(?<y>\d{4})-Q(?<q>[1-4])$", RegexOptions.CultureInvariant)]
    private static partial Regex QuarterPattern();

    [GeneratedRegex(@"^(?<y>\d{4})$", RegexOptions.CultureInvariant)]
    private static partial Regex YearPattern();
}
