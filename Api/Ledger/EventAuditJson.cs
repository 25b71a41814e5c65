using System.Buffers;
using System.Text;
using System.Text.Json;
using Tally.Api.Data;

namespace Tally.Api.Ledger;

/// <summary>
/// The data of an "event.created" audit entry: the event as the API shows it (<see cref="EventResponse"/>), written
/// straight as canonical JSON (keys in ordinal order, default escaping) — the same text as
/// <c>AuditChain.Canonical(AuditChain.ToJsonObject(row.ToResponse()))</c>, without building and re-sorting a tree.
/// </summary>
public static class EventAuditJson
{
    public static string Canonical(EventRow row)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString(Names.Campaign, row.Campaign);
            json.WriteStartObject(Names.Dimensions);
            if (row.Dimensions != "{}")
            {
                var dimensions = JsonSerializer.Deserialize<Dictionary<string, string>>(row.Dimensions) ?? [];
                foreach (var key in dimensions.Keys.Order(StringComparer.Ordinal))
                    json.WriteString(key, dimensions[key]);
            }
            json.WriteEndObject();
            json.WriteString(Names.ExternalId, row.ExternalId);
            json.WriteString(Names.Id, row.Id);
            json.WriteString(Names.Metric, row.Metric);
            json.WriteString(Names.Note, row.Note);
            json.WriteString(Names.OccurredOn, row.OccurredOn);
            json.WriteString(Names.OrgUnit, row.OrgUnit);
            json.WriteNumber(Names.Quantity, row.Quantity);
            json.WriteString(Names.RecordedAt, ApiInstant(row.RecordedAt));
            json.WriteString(Names.Source, row.Source);
            json.WriteString(Names.Status, row.VoidedAt is null ? "active" : "voided");
            json.WriteString(Names.SupersededBy, row.SupersededBy);
            json.WriteString(Names.Supersedes, row.Supersedes);
            json.WriteString(Names.VoidReason, row.VoidReason);
            json.WriteString(Names.VoidedAt, row.VoidedAt is null ? null : ApiInstant(row.VoidedAt));
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Property names encoded once, not on every entry.</summary>
    private static class Names
    {
        public static readonly JsonEncodedText Campaign = JsonEncodedText.Encode("campaign");
        public static readonly JsonEncodedText Dimensions = JsonEncodedText.Encode("dimensions");
        public static readonly JsonEncodedText ExternalId = JsonEncodedText.Encode("externalId");
        public static readonly JsonEncodedText Id = JsonEncodedText.Encode("id");
        public static readonly JsonEncodedText Metric = JsonEncodedText.Encode("metric");
        public static readonly JsonEncodedText Note = JsonEncodedText.Encode("note");
        public static readonly JsonEncodedText OccurredOn = JsonEncodedText.Encode("occurredOn");
        public static readonly JsonEncodedText OrgUnit = JsonEncodedText.Encode("orgUnit");
        public static readonly JsonEncodedText Quantity = JsonEncodedText.Encode("quantity");
        public static readonly JsonEncodedText RecordedAt = JsonEncodedText.Encode("recordedAt");
        public static readonly JsonEncodedText Source = JsonEncodedText.Encode("source");
        public static readonly JsonEncodedText Status = JsonEncodedText.Encode("status");
        public static readonly JsonEncodedText SupersededBy = JsonEncodedText.Encode("supersededBy");
        public static readonly JsonEncodedText Supersedes = JsonEncodedText.Encode("supersedes");
        public static readonly JsonEncodedText VoidReason = JsonEncodedText.Encode("voidReason");
        public static readonly JsonEncodedText VoidedAt = JsonEncodedText.Encode("voidedAt");
    }

    /// <summary>A stored instant (fixed width, 7 decimals) as the API writes it: trailing zeros of the fraction dropped.</summary>
    public static string ApiInstant(string stored)
    {
        // yyyy-MM-ddTHH:mm:ss.fffffffZ
        if (stored.Length != 28 || stored[19] != '.' || stored[27] != 'Z')
            return Instant.ToJson(Instant.FromStorage(stored));
        var end = 27;
        while (end > 20 && stored[end - 1] == '0')
            end--;
        return end == 20 ? string.Concat(stored.AsSpan(0, 19), "Z") : string.Concat(stored.AsSpan(0, end), "Z");
    }
}
