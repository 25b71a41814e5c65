using Tally.Api.Problems;
using Tally.Api.Ledger;

namespace Tally.Api.Features.Totals;

/// <summary>The period rules totals and reports share: years 2000 to 9999, and as-of instants that are not in the future.</summary>
public static class Period
{
    public const int FirstYear = Years.First;
    public const int LastYear = Years.Last;
    public static readonly DateOnly FirstDay = Years.FirstDay;

    public static string FutureAsOfMessage => Problems.Text.Say("asOf 不得晚于现在：账本在未来时刻的状态尚不可知。",
        "asOf must not be in the future: the ledger's state at a later instant is not known yet.");

    /// <summary>The days a validated request covers: a whole year, or from..to.</summary>
    public static (DateOnly From, DateOnly To) Resolve(int? year, DateOnly? from, DateOnly? to) =>
        year is { } y ? YearOf(y) : (from!.Value, to!.Value);

    public static (DateOnly From, DateOnly To) YearOf(int year) => (new DateOnly(year, 1, 1), new DateOnly(year, 12, 31));

    public static bool IsValidYear(int year) => Years.IsValid(year);
}
