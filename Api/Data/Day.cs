using System.Globalization;

namespace Tally.Api.Data;

/// <summary>Calendar days as the contract writes them: yyyy-MM-dd.</summary>
public static class Day
{
    public static string ToStorage(DateOnly day) => day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    public static DateOnly FromStorage(string text) => DateOnly.ParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture);
}
