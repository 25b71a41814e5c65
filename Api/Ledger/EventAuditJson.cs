using System.Buffers;
using System.Text;
using System.Text.Json;
using Tally.Api.Features.Events;

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
            json.WriteString("campaign", row.Campaign);
            json.WriteStartObject("dimensions");
            if (row.Dimensions != "{}")
            {
                var dimensions = JsonSerializer.Deserialize<Dictionary<string, string>>(row.Dimensions) ?? [];
                foreach (var key in dimensions.Keys.Order(StringComparer.Ordinal))
                    json.WriteString(key, dimensions[key]);
            }
            json.WriteEndObject();
            json.WriteString("externalId", row.ExternalId);
            json.WriteString("id", row.Id);
            json.WriteString("metric", row.Metric);
            json.WriteString("note", row.Note);
            json.WriteString("occurredOn", row.OccurredOn);
            json.WriteString("orgUnit", row.OrgUnit);
            json.WriteNumber("quantity", row.Quantity);
            json.WriteString("recordedAt", ApiInstant(row.RecordedAt));
            json.WriteString("source", row.Source);
            json.WriteString("status", row.VoidedAt is null ? "active" : "voided");
            json.WriteString("supersededBy", row.SupersededBy);
            json.WriteString("supersedes", row.Supersedes);
            json.WriteString("voidReason", row.VoidReason);
            json.WriteString("voidedAt", row.VoidedAt is null ? null : ApiInstant(row.VoidedAt));
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
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
