using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Unicode;

namespace Tally.Api;

/// <summary>The JSON rules of the contract, applied alike to FastEndpoints, ASP.NET and Swashbuckle.</summary>
public static class TallyJson
{
    public static JsonSerializerOptions Options { get; } = Configure(new JsonSerializerOptions(JsonSerializerDefaults.Web));

    /// <summary>Deepest nesting a body may have; the contract's bodies need 3 levels, hostile ones get a 400 early.</summary>
    public const int MaxDepth = 32;

    public static JsonSerializerOptions Configure(JsonSerializerOptions o)
    {
        o.MaxDepth = MaxDepth;
        o.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;
        o.PropertyNameCaseInsensitive = false;
        // A misspelled field is an error, never silently dropped; so is a repeated one.
        o.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
        o.AllowDuplicateProperties = false;
        o.NumberHandling = JsonNumberHandling.Strict;
        o.DefaultIgnoreCondition = JsonIgnoreCondition.Never;
        // Chinese stays readable in bodies; HTML-sensitive characters are still escaped.
        o.Encoder = JavaScriptEncoder.Create(UnicodeRanges.All);
        if (!o.Converters.OfType<UtcInstantConverter>().Any())
            o.Converters.Add(new UtcInstantConverter());
        return o;
    }
}

/// <summary>Instants are written as UTC with a trailing Z and read with or without fractional seconds.</summary>
public sealed class UtcInstantConverter : JsonConverter<DateTimeOffset>
{
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.String && Instant.TryParse(reader.GetString(), out var value))
            return value;
        throw new JsonException("expected an instant");
    }

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) =>
        writer.WriteStringValue(Instant.ToJson(value));
}

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

/// <summary>Calendar days as the contract writes them: yyyy-MM-dd.</summary>
public static class Day
{
    public static string ToStorage(DateOnly day) => day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    public static DateOnly FromStorage(string text) => DateOnly.ParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture);
}
