using System.Data.Common;
using System.Text.Json;
using Tally.Api.Data;

namespace Tally.Api.Features.Audit;

/// <summary>
/// An event as the audit trail says it must be, or as its row stands. The trail's contract: an event created before the
/// Merkle form has its own "event.created" entry carrying the whole event as the API showed it at creation; later ones
/// are leaves of an "events.created" entry (their created fields proven by its root, so replay starts from the row);
/// "event.voided" (and, before the Merkle form, "event.superseded") carry {id, reason, supersededBy, voidedAt}.
/// </summary>
public sealed record EventState(
    string Metric, string OccurredOn, long Quantity, string OrgUnit, string? Campaign, string Dimensions, string? ExternalId,
    string? Note, string Source, DateTimeOffset? RecordedAt, string? Supersedes, DateTimeOffset? VoidedAt, string? VoidReason,
    string? SupersededBy)
{
    /// <summary>Reads a row selected as: id, metric, occurred_on, quantity, org_unit, campaign, dimensions, external_id,
    /// note, source, recorded_at, voided_at, void_reason, supersedes, superseded_by.</summary>
    public static EventState Read(DbDataReader row) => new(
        row.GetString(1), row.GetString(2), row.GetInt64(3), row.GetString(4), Text(row, 5), CanonicalDimensions(Text(row, 6)),
        Text(row, 7), Text(row, 8), row.GetString(9), InstantOf(Text(row, 10)), Text(row, 13), InstantOf(Text(row, 11)),
        Text(row, 12), Text(row, 14));

    /// <summary>The row's created fields as they stand (proven by its entry's root), before any void.</summary>
    public EventState AsCreated() => this with { VoidedAt = null, VoidReason = null, SupersededBy = null };

    /// <summary>
    /// This state once superseded by <paramref name="successor"/> at <paramref name="at"/> (the successor's entry's
    /// instant): voided with reason "superseded" then, unless it was voided before (it then keeps that void).
    /// </summary>
    public EventState Superseded(string successor, string? at) => VoidedAt is not null
        ? this with { SupersededBy = successor }
        : this with { VoidedAt = InstantOf(at), VoidReason = "superseded", SupersededBy = successor };

    /// <summary>The first field where the stored row departs from the trail, as a sentence; null when none does.</summary>
    public string? FirstDifference(EventState row)
    {
        var field =
            Metric != row.Metric ? "metric"
            : Quantity != row.Quantity ? "quantity"
            : OccurredOn != row.OccurredOn ? "occurredOn"
            : OrgUnit != row.OrgUnit ? "orgUnit"
            : Campaign != row.Campaign ? "campaign"
            : Dimensions != row.Dimensions ? "dimensions"
            : ExternalId != row.ExternalId ? "externalId"
            : Note != row.Note ? "note"
            : Source != row.Source ? "source"
            : RecordedAt is null || RecordedAt != row.RecordedAt ? "recordedAt"
            : Supersedes != row.Supersedes ? "supersedes"
            : VoidedAt != row.VoidedAt ? "voidedAt"
            : VoidReason != row.VoidReason ? "voidReason"
            : SupersededBy != row.SupersededBy ? "supersededBy"
            : null;
        return field is null ? null : Problems.Text.Say($"events 表中该事件的 {field} 与审计记录不同。", $"The event's {field} in the events table differs from what the audit trail recorded.");
    }

    /// <summary>The state an "event.created" entry describes; null when the entry is not a whole event.</summary>
    public static EventState? FromCreated(JsonElement data)
    {
        try
        {
            if (data.ValueKind != JsonValueKind.Object || data.GetProperty("dimensions").ValueKind != JsonValueKind.Object)
                return null;
            return new EventState(
                data.GetProperty("metric").GetString()!, data.GetProperty("occurredOn").GetString()!,
                data.GetProperty("quantity").GetInt64(), data.GetProperty("orgUnit").GetString()!,
                data.GetProperty("campaign").GetString(), CanonicalDimensions(data.GetProperty("dimensions").GetRawText()),
                data.GetProperty("externalId").GetString(), data.GetProperty("note").GetString(),
                data.GetProperty("source").GetString()!, InstantOf(data.GetProperty("recordedAt").GetString()),
                data.GetProperty("supersedes").GetString(), InstantOf(data.GetProperty("voidedAt").GetString()),
                data.GetProperty("voidReason").GetString(), data.GetProperty("supersededBy").GetString());
        }
        catch (Exception ex) when (ex is KeyNotFoundException or InvalidOperationException or FormatException)
        {
            return null;
        }
    }

    /// <summary>This state after a void or supersede entry; null when the entry does not fit (e.g. a second void).</summary>
    public EventState? After(JsonElement change, bool superseding)
    {
        try
        {
            if (change.ValueKind != JsonValueKind.Object)
                return null;
            var at = InstantOf(change.GetProperty("voidedAt").GetString());
            if (at is null)
                return null;
            // An event voided earlier and superseded later keeps its void and gains only the link to its successor.
            if (VoidedAt is not null)
                return superseding && at == VoidedAt && SupersededBy is null
                       && change.GetProperty("supersededBy").GetString() is { } successor
                    ? this with { SupersededBy = successor }
                    : null;
            return this with
            {
                VoidedAt = at, VoidReason = change.GetProperty("reason").GetString(),
                SupersededBy = change.GetProperty("supersededBy").GetString() ?? SupersededBy,
            };
        }
        catch (Exception ex) when (ex is KeyNotFoundException or InvalidOperationException)
        {
            return null;
        }
    }

    private static string? Text(DbDataReader row, int ordinal) => row.IsDBNull(ordinal) ? null : row.GetString(ordinal);

    // Stored and shown instants share one exact shape; anything else goes through the general parser.
    private static DateTimeOffset? InstantOf(string? text) =>
        DateTimeOffset.TryParseExact(text, "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", System.Globalization.CultureInfo.InvariantCulture,
            System.Globalization.DateTimeStyles.AssumeUniversal | System.Globalization.DateTimeStyles.AdjustToUniversal, out var exact)
            ? exact
            : Instant.TryParse(text, out var at) ? at : null;

    /// <summary>Dimensions compared as a sorted map, whatever their key order or escaping; "invalid" when not a map of strings.</summary>
    private static string CanonicalDimensions(string? json)
    {
        // The common case: no dimensions, stored as written.
        if (json == "{}")
            return json;
        try
        {
            var map = JsonSerializer.Deserialize<SortedDictionary<string, string>>(json ?? "null");
            return map is null ? "invalid" : JsonSerializer.Serialize(map);
        }
        catch (JsonException)
        {
            return "invalid";
        }
    }
}

/// <summary>One event's audit entries in seq order.</summary>
public sealed class EventHistory(string eventId)
{
    private readonly List<(long Seq, string Action, string Data)> _entries = [];

    public string EventId { get; } = eventId;

    /// <summary>Why the entries cannot be replayed, when <see cref="Replay"/> returned null.</summary>
    public string? Problem { get; private set; }

    /// <summary>The seq of the event's own event.created entry (the form before Merkle entries), or null.</summary>
    public long? CreatedSeq => _entries.Count > 0 && _entries[0].Action == "event.created" ? _entries[0].Seq : null;

    /// <summary>Whether an entry records the event's supersede itself (the form before Merkle entries).</summary>
    public bool RecordsSupersede => _entries.Exists(e => e.Action == "event.superseded");

    public void Add(long seq, string action, string data) => _entries.Add((seq, action, data));

    /// <summary>
    /// The event's state after its entries. <paramref name="created"/>: the state its events.created entry proves (the
    /// row's created fields), or null for an event of the earlier form, whose own event.created entry comes first.
    /// </summary>
    public EventState? Replay(EventState? created = null)
    {
        var state = created;
        for (var i = 0; i < _entries.Count; i++)
        {
            var (_, action, data) = _entries[i];
            using var document = Parse(data);
            if (document is null)
                return Fail(Problems.Text.Say($"该事件的 {action} 条目不是 JSON。", $"The {action} entry of the event is not JSON."));
            switch (action)
            {
                case "event.created" when i == 0 && created is null:
                    state = EventState.FromCreated(document.RootElement);
                    if (state is null)
                        return Fail(Problems.Text.Say("该事件的 event.created 条目没有描述完整的事件。", "The event.created entry of the event does not describe a whole event."));
                    if (document.RootElement.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String
                        && id.GetString() != EventId)
                        return Fail(Problems.Text.Say("event.created 条目所记的事件与其 entity 不符。", "The event.created entry names another event than its entity."));
                    break;
                case "event.created":
                    return Fail(Problems.Text.Say("该事件有不止一条 event.created 条目。", "The event has more than one event.created entry."));
                case "event.voided" or "event.superseded" when state is not null:
                    state = state.After(document.RootElement, action == "event.superseded");
                    if (state is null)
                        return Fail(Problems.Text.Say($"{action} 条目与该事件的历史不符（作废两次，或并非作废）。", $"The {action} entry does not fit the event's history (voided twice, or not a void)."));
                    break;
                case "event.voided" or "event.superseded":
                    return Fail(Problems.Text.Say($"该事件的第一条是 {action}，而不是 event.created。", $"The event's first entry is {action}, not event.created."));
                default:
                    return Fail(Problems.Text.Say($"该事件有一条未知操作“{action}”的条目。", $"The event has an entry with the unknown action '{action}'."));
            }
        }
        return state ?? Fail(Problems.Text.Say("该事件没有 event.created 条目。", "The event has no event.created entry."));
    }

    private EventState? Fail(string problem)
    {
        Problem = problem;
        return null;
    }

    private static JsonDocument? Parse(string data)
    {
        try
        {
            return JsonDocument.Parse(data);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

/// <summary>Groups audit rows read as (seq, action, entity, data) ordered by entity then seq into one history per event.</summary>
public sealed class EventHistoryReader(DbDataReader rows)
{
    private const string Prefix = "event:";
    private bool _started;
    private bool _hasRow;

    public async Task<EventHistory?> NextAsync(CancellationToken ct)
    {
        if (!_started)
        {
            _started = true;
            _hasRow = await rows.ReadAsync(ct);
        }
        if (!_hasRow)
            return null;
        var entity = rows.GetString(2);
        var history = new EventHistory(entity[Prefix.Length..]);
        while (_hasRow && rows.GetString(2) == entity)
        {
            history.Add(rows.GetInt64(0), rows.GetString(1), rows.GetString(3));
            _hasRow = await rows.ReadAsync(ct);
        }
        return history;
    }
}
