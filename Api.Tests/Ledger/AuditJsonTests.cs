using Tally.Api.Data;
using Tally.Api.Features.Events;
using Tally.Api.Ledger;

namespace Tally.Api.Tests.Ledger;

/// <summary>The writer's fast audit path must give byte for byte what the general canonicalisation gives.</summary>
public sealed class AuditJsonTests
{
    public static TheoryData<string?, string, string?, string?, string, string?> Events() => new()
    {
        { null, "{}", null, null, "2024-03-05T01:02:03.0000000Z", null },
        { "qinglang-2024", """{"category":"gambling"}""", "ext-1", "河东区清理涉赌网站 😀 \"quoted\" <b>&amp;</b>", "2025-01-06T09:30:00.1230000Z", null },
        { null, """{"venue":"community","b":"x","a":"y"}""", "'; DROP TABLE events; --", "line\r\nbreak\ttab\u0001ctl\u2028", "2025-01-06T09:30:00.1234567Z", "2025-02-01T00:00:00.5000000Z" },
    };

    [Theory]
    [MemberData(nameof(Events))]
    public void Canonical_event_json_equals_the_general_canonical_form(string? campaign, string dimensions, string? externalId,
        string? note, string recordedAt, string? voidedAt)
    {
        var row = new EventRow
        {
            Id = "evt_01JH0000000000000000000000", Metric = "websites.cleaned", OccurredOn = "2024-03-05", Quantity = 1_000_000_000,
            OrgUnit = "hedong", Campaign = campaign, Dimensions = dimensions, ExternalId = externalId, Note = note, Source = "report-platform",
            RecordedAt = recordedAt, VoidedAt = voidedAt, VoidReason = voidedAt is null ? null : "重复",
            Supersedes = voidedAt is null ? null : "evt_01JH0000000000000000000001", SupersededBy = null,
        };

        Assert.Equal(AuditChain.Canonical(AuditChain.ToJsonObject(row.ToResponse())), EventAuditJson.Canonical(row));
    }

    [Theory]
    [InlineData(null, "system")]
    [InlineData("key_01JH", "报表平台 \"ops\"")]
    public void The_fast_hash_equals_the_verifying_hash(string? keyId, string name)
    {
        var data = EventAuditJson.Canonical(new EventRow
        {
            Id = "evt_1", Metric = "m", OccurredOn = "2024-01-01", Quantity = 3, OrgUnit = "hedong", Dimensions = "{}",
            Note = "注 😀", Source = "s", RecordedAt = "2024-01-01T00:00:00.0000000Z",
        });
        Assert.Equal(
            AuditChain.ComputeHash(AuditChain.Genesis, 42, "2024-01-01T00:00:00.0000000Z", keyId, name, "event.created", "event:evt_1", data),
            AuditChain.ComputeHashOfCanonical(AuditChain.Genesis, 42, "2024-01-01T00:00:00.0000000Z", keyId, name, "event.created", "event:evt_1", data));
    }

    [Theory]
    [InlineData("2024-03-05T01:02:03.0000000Z")]
    [InlineData("2024-03-05T01:02:03.1000000Z")]
    [InlineData("2024-03-05T01:02:03.1234567Z")]
    [InlineData("2024-03-05T01:02:03.0000010Z")]
    public void Stored_instants_are_shown_as_the_api_shows_them(string stored) =>
        Assert.Equal(Instant.ToJson(Instant.FromStorage(stored)), EventFieldList.ApiInstant(stored));
}

/// <summary>The API writes Chinese and quotes unescaped; the audit hash's canonical form must keep its old bytes.</summary>
public sealed class AuditCanonicalEscapingTests
{
    [Fact]
    public void Canonical_json_keeps_the_default_escaping_whatever_the_API_writes()
    {
        var data = AuditChain.ToJsonObject(new { name = "河东区'<&>\"" });
        Assert.Equal("""{"name":"\u6CB3\u4E1C\u533A\u0027\u003C\u0026\u003E\u0022"}""", AuditChain.Canonical(data));
    }

    [Fact]
    public void The_API_s_own_json_writes_chinese_and_quotes_as_they_are() =>
        Assert.Equal("""{"name":"河东区'<&>\""}""", System.Text.Json.JsonSerializer.Serialize(new { name = "河东区'<&>\"" }, TallyJson.Options));
}
