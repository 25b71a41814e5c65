using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;
using Tally.Api.Data;
using Tally.Api.Ledger;
using Tally.Api.OpenApi;

namespace Tally.Api.Features.Events;

/// <summary>
/// An event as the API shows it (CONTRACT.md, Events): written from its row by the event field list
/// (<see cref="EventFieldList.WriteJson"/>), as NDJSON exports write it; the typed properties describe it to the OpenAPI
/// document and to code in this process.
/// </summary>
[JsonConverter(typeof(EventResponseJson))]
[SchemaFilter(typeof(EventResponseSchema))]
public sealed class EventResponse(EventRow row)
{
    [JsonIgnore]
    public EventRow Row { get; } = row;

    public string Id => Row.Id;
    public string Metric => Row.Metric;
    public DateOnly OccurredOn => Day.FromStorage(Row.OccurredOn);
    public long Quantity => Row.Quantity;
    public string OrgUnit => Row.OrgUnit;
    public string? Campaign => Row.Campaign;
    public IReadOnlyDictionary<string, string> Dimensions =>
        JsonSerializer.Deserialize<SortedDictionary<string, string>>(Row.Dimensions) ?? [];
    public string? ExternalId => Row.ExternalId;
    public string? Note => Row.Note;
    public string Source => Row.Source;
    public DateTimeOffset RecordedAt => Instant.FromStorage(Row.RecordedAt);
    public string Status => Row.VoidedAt is null ? EventFieldList.Active : EventFieldList.Voided;
    public DateTimeOffset? VoidedAt => Row.VoidedAt is null ? null : Instant.FromStorage(Row.VoidedAt);
    public string? VoidReason => Row.VoidReason;
    public string? Supersedes => Row.Supersedes;
    public string? SupersededBy => Row.SupersededBy;

    /// <summary>The audit entry that records the event's creation (GET /events/{id}/proof proves it).</summary>
    public long AuditSeq => Row.AuditSeq;
}

/// <summary>Writes an event through the field list; the API never reads one back.</summary>
public sealed class EventResponseJson : JsonConverter<EventResponse>
{
    public override EventResponse Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        throw new NotSupportedException("An event is written by the API, never read: post its fields instead.");

    public override void Write(Utf8JsonWriter writer, EventResponse value, JsonSerializerOptions options) =>
        EventFieldList.WriteJson(writer, value.Row);
}

/// <summary>The one mapping from a stored events row to the contract's event.</summary>
public static class EventRowResponse
{
    public static EventResponse ToResponse(this EventRow row) => new(row);
}

/// <summary>
/// The document's event schema: every field of the list is always present (null when it has no value), and the
/// typed properties must name exactly the list's fields, so the document and the written JSON cannot drift apart.
/// </summary>
public sealed class EventResponseSchema : ISchemaFilter
{
    public void Apply(IOpenApiSchema schema, SchemaFilterContext context)
    {
        if (schema is not OpenApiSchema events || events.Properties is null)
            return;
        var names = EventFieldList.All.Select(f => f.Name).ToList();
        if (!events.Properties.Keys.Order(StringComparer.Ordinal).SequenceEqual(names.Order(StringComparer.Ordinal)))
            throw new InvalidOperationException("EventResponse's properties differ from the event field list.");
        foreach (var property in events.Properties.Values.OfType<OpenApiSchema>())
            property.ReadOnly = false;
        events.Required = new SortedSet<string>(names, StringComparer.OrdinalIgnoreCase);
    }
}
