using System.Globalization;

namespace Tally.Api.Data;

/// <summary>How instants are parsed, stored (fixed width, so text order is time order) and shown.</summary>
public static class Instant
{
    private const string StorageFormat = "yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'";
    private const string JsonFormat = "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'";

    public static string ToStorage(DateTimeOffset value) =>
        value.UtcDateTime.ToString(StorageFormat, CultureInfo.InvariantCulture);

    public static string ToJson(DateTimeOffset value) =>
        value.UtcDateTime.ToString(JsonFormat, CultureInfo.InvariantCulture);

    public static DateTimeOffset FromStorage(string value) =>
        DateTimeOffset.ParseExact(value, StorageFormat, CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);

    /// <summary>Accepts ISO-8601 instants with an explicit offset or Z, with or without fractional seconds.</summary>
    public static bool TryParse(string? text, out DateTimeOffset value)
    {
        value = default;
        if (string.IsNullOrWhiteSpace(text) || text.Length > 40 || !text.Contains('T', StringComparison.Ordinal))
            return false;
        var last = text[^1];
        var hasOffset = last is 'Z' or 'z' || text.LastIndexOfAny(['+', '-']) > text.IndexOf('T', StringComparison.Ordinal);
        if (!hasOffset)
            return false;
        if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal, out value))
            return false;
        value = value.ToUniversalTime();
        return true;
    }
}
