using Tally.Api.Data;
using Tally.Api.Features.Events;
using Tally.Api.Ledger;

namespace Tally.Api.Tests.Ledger;

/// <summary>
/// An event's leaf JSON is RFC 8785 canonical JSON of exactly its created fields (byte for byte, as an auditor rebuilds
/// it), and the writer's fast entry hash is the verifying one.
/// </summary>
public sealed class AuditJsonTests
{
    [Fact]
    public void A_leaf_is_the_canonical_json_of_the_created_fields_with_chinese_as_utf8_and_only_required_escapes()
    {
        var row = new EventRow
        {
            Id = "evt_01JH0000000000000000000000", Metric = "websites.cleaned", OccurredOn = "2024-03-05", Quantity = 1_000_000_000,
            OrgUnit = "hedong", Campaign = "qinglang-2024", Dimensions = """{"venue":"community","b":"x","a":"y"}""",
            ExternalId = "'; DROP TABLE events; --", Note = "河东区 😀 \"q\" <b>&amp;</b> \\ line\r\nbreak\ttab\u0001\u001f\u007f\u2028",
            Source = "report-platform", RecordedAt = "2025-01-06T09:30:00.1230000Z", VoidedAt = "2025-02-01T00:00:00.5000000Z",
            VoidReason = "重复", Supersedes = null, SupersededBy = "evt_01JH0000000000000000000001", AuditSeq = 7,
        };
        const string expected =
            """{"campaign":"qinglang-2024","dimensions":{"a":"y","b":"x","venue":"community"},"externalId":"'; DROP TABLE events; --","id":"evt_01JH0000000000000000000000","metric":"websites.cleaned","note":"河东区 😀 \"q\" <b>&amp;</b> \\ line\r\nbreak\ttab\u0001\u001f\u007f\u2028","occurredOn":"2024-03-05","orgUnit":"hedong","quantity":1000000000,"recordedAt":"2025-01-06T09:30:00.123Z","source":"report-platform","supersedes":null}""";
        Assert.Equal(expected.Replace("\\u007f", "\u007f", StringComparison.Ordinal).Replace("\\u2028", "\u2028", StringComparison.Ordinal),
            EventLeafJson.Text(row));
    }

    [Fact]
    public void A_leaf_with_nulls_writes_them_and_no_voiding_field()
    {
        var row = new EventRow
        {
            Id = "evt_1", Metric = "m", OccurredOn = "2024-01-01", Quantity = 3, OrgUnit = "hedong", Dimensions = "{}",
            Source = "s", RecordedAt = "2024-01-01T00:00:00.0000000Z", Supersedes = "evt_0",
        };
        Assert.Equal(
            """{"campaign":null,"dimensions":{},"externalId":null,"id":"evt_1","metric":"m","note":null,"occurredOn":"2024-01-01","orgUnit":"hedong","quantity":3,"recordedAt":"2024-01-01T00:00:00Z","source":"s","supersedes":"evt_0"}""",
            EventLeafJson.Text(row));
    }

    [Theory]
    [InlineData(null, "system")]
    [InlineData("key_01JH", "报表平台 \"ops\"")]
    public void The_fast_hash_equals_the_verifying_hash(string? keyId, string name)
    {
        const string data = """{"events":1,"firstEventId":"evt_1","lastEventId":"evt_1","root":"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"}""";
        Assert.Equal(
            AuditChain.ComputeHash(AuditChain.Genesis, 42, "2024-01-01T00:00:00.0000000Z", keyId, name, "events.created", "events:evt_1", data),
            AuditChain.ComputeHashOfCanonical(AuditChain.Genesis, 42, "2024-01-01T00:00:00.0000000Z", keyId, name, "events.created", "events:evt_1", data));
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
