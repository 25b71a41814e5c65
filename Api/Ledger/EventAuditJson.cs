using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Tally.Api.Ledger;

/// <summary>
/// The data of an "event.created" audit entry: the event as the API shows it (<see cref="EventFieldList"/>), written
/// straight as canonical JSON (keys in ordinal order, default escaping) — the same text as
/// <c>AuditChain.Canonical(AuditChain.ToJsonObject(row.ToResponse()))</c>, without building and re-sorting a tree.
/// </summary>
public static class EventAuditJson
{
    private static readonly Dictionary<string, string> NoDimensions = [];

    public static string Canonical(EventRow row)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            foreach (var field in EventFieldList.OrdinalOrder)
            {
                switch (field.Kind)
                {
                    case EventFieldKind.Text:
                        json.WriteString(field.JsonName, field.Text(row));
                        break;
                    case EventFieldKind.Number:
                        json.WriteNumber(field.JsonName, field.Number(row));
                        break;
                    default:
                        json.WriteStartObject(field.JsonName);
                        var dimensions = EventFieldList.Dimensions(row, NoDimensions);
                        foreach (var key in dimensions.Keys.Order(StringComparer.Ordinal))
                            json.WriteString(key, dimensions[key]);
                        json.WriteEndObject();
                        break;
                }
            }
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
