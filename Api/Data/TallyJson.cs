using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tally.Api.Data;

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
        // Chinese, quotes, <, > and & are written as they are, so a curl answer reads as it was written. Safe here: the
        // API's JSON is never embedded in HTML, and every response says X-Content-Type-Options: nosniff. Control
        // characters and lone surrogates are still escaped, so the output stays valid JSON. The audit hash never uses
        // these options: its canonical form keeps the default escaping (AuditChain, AuditHasher, EventAuditJson).
        o.Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping;
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
