using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Dapper;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Security;

/// <summary>
/// Hostile input against every field of every POST/PUT body and every GET parameter the OpenAPI document lists:
/// always a 4xx problem with nothing stored, or a success that stores the value verbatim. Never a 500, never a stack
/// trace or an internal type name. Routes added later are covered the same way (bodies synthesized from their schema).
/// </summary>
public sealed partial class HostileInputTests(TallyApp app)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string Placeholder = "__hostile__";

    /// <summary>Hostile values as raw JSON text, or raw bytes (invalid UTF-8), each with a name for the failure message.</summary>
    private sealed record Hostile(string Name, string? Json, byte[]? Bytes = null, string? Verbatim = null);

    private static readonly string Megabyte = new('A', 1 << 20);

    private static IEnumerable<Hostile> Strings() =>
    [
        Text("sql", "' OR '1'='1'; DROP TABLE events; --"),
        Text("sql2", "Robert'); DELETE FROM audit_log WHERE ('1'='1"),
        Text("sql3", "\" OR \"\"=\"; UPDATE api_keys SET revoked_at = NULL; /*"),
        Text("html", "<script>alert(1)</script><img src=x onerror=alert(1)>"),
        Text("control", "\u0001\u0007\u001b[31mred\u001b[0m\u007f"),
        Text("nul", "a\u0000b"),
        Text("nul-only", "\u0000"),
        Text("bidi", "\u202eevil\u200b\ufeff"),
        Text("path", "../../../../etc/passwd"),
        Text("format", "{0}{value}%s%n%x${jndi:ldap://x}"),
        Text("emoji", "😀👍🏽🇨🇳"),
        Text("cjk", "河东区“清朗”专项行动"),
        Text("megabyte", Megabyte),
        Text("cjk-long", new string('注', 300_000)),
        new("lone-surrogate", "\"\\ud800x\""),
        new("reversed-surrogates", "\"\\udc00\\ud800\""),
        new("invalid-utf8", null, [0x22, 0x61, 0xFF, 0xFE, 0xC3, 0x28, 0xED, 0xA0, 0x80, 0x22]),
        new("overlong-utf8", null, [0x22, 0xC0, 0xAF, 0xE0, 0x80, 0xAF, 0x22]),
        new("raw-nul", null, [0x22, 0x61, 0x00, 0x62, 0x22]),
        new("raw-newline", null, [0x22, 0x61, 0x0A, 0x62, 0x22]),
    ];

    private static IEnumerable<Hostile> WrongTypes() =>
    [
        new("number", "12345"),
        new("huge-number", "1e400"),
        new("negative-huge", "-1e400"),
        new("long-overflow", "9223372036854775808"),
        new("long-digits", new string('9', 10_000)),
        new("fraction", "1.5"),
        new("true", "true"),
        new("null", "null"),
        new("object", "{}"),
        new("array", "[]"),
        new("string-number", "\"5\""),
        new("nan", "NaN"),
        new("deep-array", new string('[', 10_000) + new string(']', 10_000)),
        new("deep-object", string.Concat(Enumerable.Repeat("{\"a\":", 10_000)) + "1" + new string('}', 10_000)),
        new("wide-object", "{" + string.Join(',', Enumerable.Range(0, 20_000).Select(i => $"\"k{i}\":\"v\"")) + "}"),
        new("wide-array", "[" + string.Join(',', Enumerable.Repeat("\"v\"", 20_000)) + "]"),
        new("wide-array-of-invalid", "[" + string.Join(',', Enumerable.Repeat("\"Not A Code!\"", 20_000)) + "]"),
        new("wide-array-of-objects", "[" + string.Join(',', Enumerable.Repeat("{}", 20_000)) + "]"),
        new("wide-array-of-nested", "[" + string.Join(',', Enumerable.Repeat("{\"key\":\"k\",\"values\":[\"A!\",\"B!\"]}", 5_000)) + "]"),
    ];

    // Non-ASCII goes as raw UTF-8, as clients send Chinese; control characters are escaped, as JSON requires.
    private static readonly JsonSerializerOptions RawUtf8 = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static Hostile Text(string name, string value) => new(name, JsonSerializer.Serialize(value, RawUtf8), Verbatim: value);

    private static IEnumerable<(string Name, byte[] Body)> WholeBodies() =>
    [
        ("empty", []),
        ("null", "null"u8.ToArray()),
        ("array", "[]"u8.ToArray()),
        ("number", "1e400"u8.ToArray()),
        ("string", "\"x\""u8.ToArray()),
        ("truncated", "{\"name\":"u8.ToArray()),
        ("duplicate-keys", "{\"name\":\"a\",\"name\":\"b\"}"u8.ToArray()),
        ("trailing-garbage", "{} {}"u8.ToArray()),
        ("comments", "/* x */ {}"u8.ToArray()),
        ("single-quotes", "{'name':'x'}"u8.ToArray()),
        ("bom-only", [0xEF, 0xBB, 0xBF]),
        ("invalid-utf8", [0xFF, 0xFE, 0xFD]),
        ("utf16", Encoding.Unicode.GetBytes("{\"name\":\"x\"}")),
        ("deep", Encoding.UTF8.GetBytes(new string('[', 10_000) + new string(']', 10_000))),
        ("nul-bytes", new byte[1000]),
    ];

    /// <summary>A valid body (and its URL) for each known route, with the marker in at least two of its string fields.</summary>
    private async Task<(string Url, JsonObject Body)?> BaselineAsync(string method, string template, string marker,
        Dictionary<string, string> targets)
    {
        using var admin = app.Admin();
        // A PUT changes one resource of the test's own, made once per route.
        async Task<string> TargetAsync(Func<Task<string>> create) =>
            targets.TryGetValue(template, out var url) ? url : targets[template] = await create();
        switch (method, template)
        {
            case ("POST", "/api/v1/events"):
                return (template, new JsonObject
                {
                    ["metric"] = "websites.cleaned", ["occurredOn"] = "2024-03-05", ["quantity"] = 1, ["orgUnit"] = "hedong",
                    ["campaign"] = null, ["dimensions"] = new JsonObject { ["category"] = "gambling" }, ["externalId"] = marker,
                    ["note"] = marker,
                });
            case ("POST", "/api/v1/metrics"):
                return (template, MetricBody(marker, code: marker));
            case ("PUT", "/api/v1/metrics/{code}"):
                return (await TargetAsync(async () =>
                {
                    var metric = Unique.Code("m");
                    Assert.Equal(HttpStatusCode.Created, (await admin.PostAsync("/api/v1/metrics", Json(MetricBody("x", metric)), Ct)).StatusCode);
                    return $"/api/v1/metrics/{metric}";
                }), MetricBody(marker, code: null));
            case ("POST", "/api/v1/org-units"):
                return (template, new JsonObject { ["code"] = marker, ["name"] = marker, ["parent"] = "hedong" });
            case ("PUT", "/api/v1/org-units/{code}"):
                return (await TargetAsync(async () => $"/api/v1/org-units/{await app.OrgUnitAsync()}"),
                    new JsonObject { ["name"] = marker, ["parent"] = "hedong" });
            case ("POST", "/api/v1/campaigns"):
                return (template, CampaignBody(marker, code: marker));
            case ("PUT", "/api/v1/campaigns/{code}"):
                return (await TargetAsync(async () =>
                {
                    var campaign = Unique.Code("c");
                    Assert.Equal(HttpStatusCode.Created, (await admin.PostAsync("/api/v1/campaigns", Json(CampaignBody("x", campaign)), Ct)).StatusCode);
                    return $"/api/v1/campaigns/{campaign}";
                }), CampaignBody(marker, code: null));
            case ("POST", "/api/v1/api-keys"):
                return (template, new JsonObject
                {
                    ["name"] = marker, ["source"] = marker, ["scopes"] = new JsonArray("events:read"), ["orgUnit"] = "hedong",
                });
            default:
                return null;
        }
    }

    private static JsonObject MetricBody(string marker, string? code)
    {
        var body = new JsonObject
        {
            ["name"] = marker, ["nameEn"] = marker, ["unit"] = "次", ["description"] = marker,
            ["dimensions"] = new JsonArray(new JsonObject { ["key"] = "kind", ["values"] = new JsonArray("a", "b") }),
            ["reportTemplate"] = "开展活动{value}次" + marker, ["approximate"] = false, ["active"] = true,
        };
        if (code is not null)
            body["code"] = code;
        return body;
    }

    private static JsonObject CampaignBody(string marker, string? code)
    {
        var body = new JsonObject { ["name"] = marker, ["startsOn"] = "2024-01-01", ["endsOn"] = "2024-12-31" };
        if (code is not null)
            body["code"] = code;
        return body;
    }

    private static StringContent Json(JsonNode body) => new(body.ToJsonString(), Encoding.UTF8, "application/json");

    [Fact]
    public async Task Every_field_of_every_body_survives_hostile_values_without_a_500_or_a_stored_trace()
    {
        var doc = await DocumentAsync();
        var operations = Operations(doc).Where(o => o.Method is "POST" or "PUT" && o.BodySchema is not null).ToList();
        Assert.Contains(operations, o => o.Template == "/api/v1/events");
        var cases = 0;
        var failures = new List<string>();
        // Routes run side by side (each with its own key and its own PUT target); cases within a route one after another.
        await Task.WhenAll(operations.Select(async operation =>
        {
            var targets = new Dictionary<string, string>(StringComparer.Ordinal);
            var found = new List<string>();
            using var client = await app.ClientWithAsync(["admin"]);
            foreach (var field in Fields(doc, operation.BodySchema!))
            {
                var values = field.Kind == "string" ? Strings().Concat(WrongTypes().Where(w => w.Name != "string-number"))
                    : WrongTypes().Concat(Strings().Where(s => s.Name is "sql" or "megabyte" or "invalid-utf8" or "nul"));
                foreach (var hostile in values)
                {
                    var marker = Unique.Code("hostile");
                    var baseline = await BaselineAsync(operation.Method, operation.Template, marker, targets);
                    var (url, body) = baseline ?? (RouteValue().Replace(operation.Template, "x-1"), Synthesize(doc, operation.BodySchema!));
                    Set(body, field.Path, Placeholder);
                    var bytes = Substitute(body.ToJsonString(), hostile);
                    using var request = new HttpRequestMessage(new HttpMethod(operation.Method), url)
                    {
                        Content = new ByteArrayContent(bytes) { Headers = { ContentType = new("application/json") } },
                    };
                    var response = await client.SendAsync(request, Ct);
                    var context = $"{operation.Method} {operation.Template} {field.Path} = {hostile.Name}";
                    Interlocked.Increment(ref cases);
                    await CollectAsync(found, async () =>
                    {
                        var text = await AssertSafeAsync(response, context);
                        if (baseline is null)
                            return;
                        if ((int)response.StatusCode >= 400)
                            Assert.True(StoredWith(marker) == 0, $"{context}: refused with {(int)response.StatusCode}, yet something was stored");
                        else if (hostile.Verbatim is not null && !field.Path.Contains('.', StringComparison.Ordinal)
                                 && JsonNode.Parse(text)?[field.Path] is JsonValue echoed && echoed.TryGetValue<string>(out var echo))
                            Assert.True(echo == hostile.Verbatim, $"{context}: stored as something else");
                    });
                }
            }
            lock (failures)
                failures.AddRange(found);
        }));
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(40)) + $"\n({failures.Count} failures in {cases} cases)");
        Assert.True(cases > 500, $"only {cases} cases ran");
    }

    [Fact]
    public async Task Every_body_refuses_malformed_documents_as_a_whole()
    {
        var doc = await DocumentAsync();
        using var client = await app.ClientWithAsync(["admin"]);
        var failures = new List<string>();
        foreach (var operation in Operations(doc).Where(o => o.Method is "POST" or "PUT" && o.BodySchema is not null))
        {
            var url = RouteValue().Replace(operation.Template, "x-1");
            foreach (var (name, body) in WholeBodies())
            {
                using var request = new HttpRequestMessage(new HttpMethod(operation.Method), url)
                {
                    Content = new ByteArrayContent(body) { Headers = { ContentType = new("application/json") } },
                };
                var response = await client.SendAsync(request, Ct);
                await CollectAsync(failures, async () =>
                {
                    await AssertSafeAsync(response, $"{operation.Method} {operation.Template} body {name}");
                    Assert.True((int)response.StatusCode is >= 400 and < 500, $"{operation.Method} {operation.Template} body {name}: {(int)response.StatusCode}");
                });
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(40)) + $"\n({failures.Count} failures)");
    }

    [Fact]
    public async Task Every_route_and_query_parameter_survives_hostile_values()
    {
        var doc = await DocumentAsync();
        using var client = await app.ClientWithAsync(["admin"]);
        var failures = new List<string>();
        var values = Strings().Where(s => s.Verbatim is not null && s.Name is not ("megabyte" or "cjk-long")).Select(s => s.Verbatim!)
            .Concat(["1e400", "-1", "0", "99999999999999999999", "NaN", "true", "[]", "{}", "%00", "%FF%FE", new string('x', 4000), ""]);
        // Routes that take neither route nor query parameters have nothing to vary here.
        foreach (var operation in Operations(doc).Where(o => o.Template.Contains('{', StringComparison.Ordinal) || o.Query.Count > 0))
        {
            foreach (var value in values)
            {
                var encoded = Uri.EscapeDataString(value);
                var candidates = new List<string>();
                // The test host cannot even build a path holding a NUL (Kestrel refuses it with 400); query strings can.
                if (!value.Contains('\0', StringComparison.Ordinal))
                    candidates.Add(RouteValue().Replace(operation.Template, encoded.Length == 0 ? "%20" : encoded));
                var filled = RouteValue().Replace(operation.Template, "x-1");
                candidates.AddRange(operation.Query.Select(q => $"{filled}?{q}={encoded}"));
                foreach (var url in candidates)
                {
                    using var request = new HttpRequestMessage(new HttpMethod(operation.Method), url)
                    {
                        Content = operation.Method is "GET" or "DELETE" ? null : Json(new JsonObject()),
                    };
                    var response = await client.SendAsync(request, Ct);
                    await CollectAsync(failures, () => AssertSafeAsync(response, $"{operation.Method} {url[..Math.Min(url.Length, 120)]}"));
                }
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(40)) + $"\n({failures.Count} failures)");
    }

    /// <summary>Runs the assertions of one case and keeps its failure, so one run reports every broken case.</summary>
    private static async Task CollectAsync(List<string> failures, Func<Task> assertions)
    {
        try
        {
            await assertions();
        }
        catch (Exception ex) when (ex is Xunit.Sdk.IAssertionException)
        {
            failures.Add(ex.Message.Split('\n')[0]);
        }
    }

    [Fact]
    public async Task Sql_in_text_is_stored_verbatim_and_harms_nothing()
    {
        using var client = await app.ClientWithAsync(["events:write", "events:read"]);
        const string note = "'); DROP TABLE events; DELETE FROM audit_log; --";
        long entriesBefore;
        using (var before = app.OpenDatabase())
            entriesBefore = before.ExecuteScalar<long>("SELECT count(*) FROM audit_log");
        var created = await client.PostAsync("/api/v1/events", Json(new JsonObject
        {
            ["metric"] = "notices.issued", ["occurredOn"] = "2024-02-01", ["quantity"] = 1, ["orgUnit"] = "hedong", ["note"] = note,
            ["externalId"] = "x' OR '1'='1",
        }), Ct);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = (await created.ReadJsonAsync())["id"]!.GetValue<string>();
        var read = await (await client.GetAsync($"/api/v1/events/{id}", Ct)).ReadJsonAsync();
        Assert.Equal(note, read["note"]!.GetValue<string>());
        Assert.Equal("x' OR '1'='1", read["externalId"]!.GetValue<string>());

        using var db = app.OpenDatabase();
        Assert.Equal(note, db.ExecuteScalar<string>("SELECT note FROM events WHERE id = @id", new { id }));
        // Nothing was deleted: the chain still runs from 1 without a gap, past every entry there was before.
        var (entries, last) = db.QuerySingle<(long, long)>("SELECT count(*), coalesce(max(seq), 0) FROM audit_log");
        Assert.Equal(last, entries);
        Assert.True(entries > entriesBefore, $"{entries} entries after, {entriesBefore} before");
        Assert.Equal(1, db.ExecuteScalar<long>("SELECT count(*) FROM events WHERE id = @id AND external_id = @externalId",
            new { id, externalId = "x' OR '1'='1" }));
    }

    [Fact]
    public async Task Control_characters_are_refused_in_names_and_line_breaks_kept_in_free_text()
    {
        using var admin = app.Admin();
        var code = Unique.Code("unit");
        await (await admin.PostAsync("/api/v1/org-units", Json(new JsonObject { ["code"] = code, ["name"] = "河东\u0000区", ["parent"] = "hedong" }), Ct))
            .AssertValidationAsync("name");
        await (await admin.PostAsync("/api/v1/org-units", Json(new JsonObject { ["code"] = code, ["name"] = "河东\n区", ["parent"] = "hedong" }), Ct))
            .AssertValidationAsync("name");

        var metric = Unique.Code("m");
        var created = await admin.PostAsync("/api/v1/metrics", Json(new JsonObject
        {
            ["code"] = metric, ["name"] = "约谈", ["unit"] = "个", ["description"] = "第一行\n第二行\t完",
        }), Ct);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal("第一行\n第二行\t完", (await created.ReadJsonAsync())["description"]!.GetValue<string>());
        var bell = await admin.PutAsync($"/api/v1/metrics/{metric}", Json(new JsonObject
        {
            ["name"] = "约谈", ["unit"] = "个", ["description"] = "ring\u0007",
        }), Ct);
        await bell.AssertValidationAsync("description");
    }

    [Fact]
    public async Task Unpaired_surrogates_and_invalid_utf8_are_400_with_the_field()
    {
        using var client = await app.ClientWithAsync(["events:write"]);
        foreach (var value in new byte[][] { "\"\\ud800x\""u8.ToArray(), [0x22, 0x61, 0xFF, 0x22] })
        {
            byte[] body = [.. "{\"metric\":\"notices.issued\",\"occurredOn\":\"2024-02-01\",\"quantity\":1,\"orgUnit\":\"hedong\",\"note\":"u8, .. value, .. "}"u8];
            var response = await client.PostAsync("/api/v1/events",
                new ByteArrayContent(body) { Headers = { ContentType = new("application/json") } }, Ct);
            await response.AssertValidationAsync("note");
        }
    }

    /// <summary>Status below 500; any error is a clean problem; the contract's headers are there.</summary>
    private static async Task<string> AssertSafeAsync(HttpResponseMessage response, string context)
    {
        var text = await response.Content.ReadAsStringAsync(Ct);
        var status = (int)response.StatusCode;
        Assert.True(status < 500, $"{context}: {status} {text[..Math.Min(text.Length, 500)]}");
        Assert.True(response.Headers.TryGetValues("X-Content-Type-Options", out var nosniff) && nosniff.Single() == "nosniff", context);
        Assert.False(response.Headers.Contains("Server"), context);
        if (status < 400)
            return text;
        Assert.True(response.Content.Headers.ContentType?.MediaType == "application/problem+json", $"{context}: {response.Content.Headers.ContentType}");
        var problem = JsonNode.Parse(text)!;
        Assert.StartsWith("/problems/", problem["type"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(status, problem["status"]!.GetValue<int>());
        Assert.False(string.IsNullOrEmpty(problem["detail"]?.GetValue<string>()), context);
        foreach (var leak in new[] { "Exception", "Tally.Api", "System.", "Microsoft.", "FastEndpoints", "   at ", "SQLite", "Dapper" })
            Assert.False(text.Contains(leak, StringComparison.Ordinal), $"{context}: the body names '{leak}': {text[..Math.Min(text.Length, 500)]}");
        Assert.True(text.Length < 64 * 1024, $"{context}: a {text.Length}-character error body echoes the input");
        return text;
    }

    /// <summary>
    /// Rows anywhere that carry the marker: audit entries, and the tables the bodies write (an event's fields are in
    /// the events table only: its audit entry holds a Merkle root, not the fields).
    /// </summary>
    private long StoredWith(string marker)
    {
        using var db = app.OpenDatabase();
        return db.ExecuteScalar<long>(
            """
            SELECT (SELECT count(*) FROM audit_log WHERE replace(data, @marker, '') <> data)
                 + (SELECT count(*) FROM events WHERE replace(coalesce(external_id, ''), @marker, '') <> coalesce(external_id, '') OR replace(coalesce(note, ''), @marker, '') <> coalesce(note, ''))
                 + (SELECT count(*) FROM metrics WHERE replace(code, @marker, '') <> code OR replace(name, @marker, '') <> name)
                 + (SELECT count(*) FROM org_units WHERE replace(code, @marker, '') <> code OR replace(name, @marker, '') <> name)
                 + (SELECT count(*) FROM campaigns WHERE replace(code, @marker, '') <> code OR replace(name, @marker, '') <> name)
                 + (SELECT count(*) FROM api_keys WHERE replace(name, @marker, '') <> name OR replace(source, @marker, '') <> source)
            """, new { marker });
    }

    private static byte[] Substitute(string json, Hostile hostile)
    {
        var quoted = "\"" + Placeholder + "\"";
        var at = json.IndexOf(quoted, StringComparison.Ordinal);
        var before = Encoding.UTF8.GetBytes(json[..at]);
        var after = Encoding.UTF8.GetBytes(json[(at + quoted.Length)..]);
        var middle = hostile.Bytes ?? Encoding.UTF8.GetBytes(hostile.Json!);
        return [.. before, .. middle, .. after];
    }

    private sealed record Operation(string Method, string Template, string? BodySchema, IReadOnlyList<string> Query);

    private sealed record Field(string Path, string Kind);

    private async Task<JsonNode> DocumentAsync()
    {
        using var client = app.Client(key: null);
        return JsonNode.Parse(await client.GetStringAsync("/swagger/v1/swagger.json", Ct))!;
    }

    private static IEnumerable<Operation> Operations(JsonNode doc)
    {
        foreach (var (path, item) in doc["paths"]!.AsObject())
        {
            if (!path.StartsWith("/api/v1", StringComparison.Ordinal))
                continue;
            foreach (var (method, operation) in item!.AsObject())
            {
                var schema = operation!["requestBody"]?["content"]?["application/json"]?["schema"]?["$ref"]?.GetValue<string>();
                var query = operation["parameters"]?.AsArray().Where(p => p!["in"]!.GetValue<string>() == "query")
                    .Select(p => p!["name"]!.GetValue<string>()).ToList() ?? [];
                yield return new Operation(method.ToUpperInvariant(), path, schema?.Split('/')[^1], query);
            }
        }
    }

    /// <summary>Top-level fields, and the fields of the first item of lists of objects (e.g. dimensions[0].key).</summary>
    private static IEnumerable<Field> Fields(JsonNode doc, string schemaName, string prefix = "", int depth = 0)
    {
        var properties = doc["components"]!["schemas"]![schemaName]?["properties"]?.AsObject();
        if (properties is null)
            yield break;
        foreach (var (name, schema) in properties)
        {
            var kind = KindOf(schema!);
            yield return new Field(prefix + name, kind);
            var itemRef = schema!["items"]?["$ref"]?.GetValue<string>();
            if (itemRef is not null && depth == 0)
            {
                foreach (var nested in Fields(doc, itemRef.Split('/')[^1], $"{prefix}{name}[0].", depth + 1))
                    yield return nested;
            }
            else if (kind == "array" && schema["items"]?["type"]?.ToString() == "string")
            {
                yield return new Field($"{prefix}{name}[0]", "string");
            }
        }
    }

    private static string KindOf(JsonNode schema)
    {
        if (schema["$ref"] is not null)
            return "object";
        var type = schema["type"];
        var text = type is JsonArray types ? types.Select(t => t!.GetValue<string>()).First(t => t != "null") : type?.GetValue<string>();
        return text ?? "object";
    }

    /// <summary>A body for a route without a known baseline: every property with a plausible value of its type.</summary>
    private static JsonObject Synthesize(JsonNode doc, string schemaName, int depth = 0)
    {
        var body = new JsonObject();
        var properties = doc["components"]!["schemas"]![schemaName]?["properties"]?.AsObject();
        foreach (var (name, schema) in properties ?? [])
        {
            var itemRef = schema!["items"]?["$ref"]?.GetValue<string>();
            body[name] = KindOf(schema) switch
            {
                "string" => "x",
                "integer" or "number" => 1,
                "boolean" => false,
                "array" when itemRef is not null && depth < 2 => new JsonArray(Synthesize(doc, itemRef.Split('/')[^1], depth + 1)),
                "array" => new JsonArray("x"),
                _ when schema["$ref"] is not null && depth < 2 => Synthesize(doc, schema["$ref"]!.GetValue<string>().Split('/')[^1], depth + 1),
                _ => new JsonObject(),
            };
        }
        return body;
    }

    /// <summary>Sets a value at a path such as note, dimensions[0].key or scopes[0], creating what is missing.</summary>
    private static void Set(JsonObject body, string path, string value)
    {
        JsonNode node = body;
        var parts = path.Split('.');
        for (var i = 0; i < parts.Length; i++)
        {
            var last = i == parts.Length - 1;
            var match = Indexed().Match(parts[i]);
            var name = match.Success ? match.Groups[1].Value : parts[i];
            var obj = node.AsObject();
            if (!match.Success)
            {
                if (last)
                    obj[name] = value;
                else
                    node = obj[name] ??= new JsonObject();
                continue;
            }
            if (obj[name] is not JsonArray array || array.Count == 0)
                obj[name] = array = [last ? value : new JsonObject()];
            if (last)
                array[0] = value;
            else
                node = array[0] ??= new JsonObject();
        }
    }

    [GeneratedRegex(@"^(\w+)\[0\]$")]
    private static partial Regex Indexed();

    [GeneratedRegex(@"\{[^}]+\}")]
    private static partial Regex RouteValue();
}
