using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Dapper;
using Microsoft.Data.Sqlite;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Security;

/// <summary>
/// A schema fuzzer in a bounded form: from the committed <c>openapi/v1.json</c>, a fixed seed makes a few thousand
/// requests across every operation, each a valid request with mutations (parameters, bodies, headers, content types,
/// methods), sent with the admin key, a key bound to one unit, or no key. Every answer is below 500, carries the security
/// headers, is a problem body when it is a 4xx, and a refused request stores nothing (events and audit entries counted
/// before and after each one). The app is its own, so nothing else writes while the counts are taken.
/// </summary>
public sealed class FuzzTests
{
    private const int Seed = 17_2026;
    private const int Requests = 3000;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private TallyApp _app = null!;
    private Fixtures _fixtures = null!;

    /// <summary>Cases run by a test of their own, so a regression of that finding is named by the failing test.</summary>
    private enum Pending
    {
        None,
        /// <summary>Finding 9: a JSON route without <c>Content-Type</c> answers 415 with an empty body.</summary>
        NoContentTypeOnJsonRoute,
    }

    [Fact]
    public Task Generated_requests_across_every_operation_get_no_5xx_a_problem_for_every_4xx_and_store_nothing_when_refused() =>
        RunAsync(Pending.None);

    [Fact]
    public Task Json_routes_without_a_content_type_get_a_415_problem() => RunAsync(Pending.NoContentTypeOnJsonRoute);

    private async Task RunAsync(Pending only)
    {
        await using var app = await TallyApp.StartAsync(new Dictionary<string, string?>
        {
            // The fuzzer sends thousands of requests in seconds; rate limiting has tests of its own.
            ["Tally:RateLimit:PermitsPerSecond"] = "1000000",
            ["Tally:RateLimit:Burst"] = "1000000",
        });
        _app = app;
        _fixtures = await Fixtures.CreateAsync(app);
        var document = OpenApiOperations.Load();
        Assert.True(document.Count >= 35, $"only {document.Count} operations in openapi/v1.json");
        var random = new Random(Seed);
        var generator = new RequestGenerator(random, _fixtures);
        await using var db = _app.OpenDatabase();
        var failures = new List<string>();
        var sent = 0;
        var refused = 0;
        var statuses = new SortedDictionary<int, int>();
        var seenOperations = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < Requests; i++)
        {
            var operation = document[i % document.Count];
            var fuzz = generator.Make(operation, i);
            // Every case is generated whatever is run, so each test sees the same sequence from the seed.
            if (fuzz.Pending != only)
                continue;
            var before = await CountsAsync(db);
            using var request = fuzz.ToRequest();
            using var response = await _fixtures.Client(fuzz.Key).SendAsync(request, Ct);
            var body = await response.Content.ReadAsByteArrayAsync(Ct);
            sent++;
            seenOperations.Add(operation.Name);
            var status = (int)response.StatusCode;
            statuses[status] = statuses.GetValueOrDefault(status) + 1;
            if (status == 202 && request.RequestUri!.OriginalString.StartsWith("/api/v1/imports", StringComparison.Ordinal))
                await WaitForImportAsync(fuzz.Key, response);
            var problems = Check(request.Method, response, body);
            if (status >= 400)
            {
                refused++;
                var after = await CountsAsync(db);
                if (after != before)
                    problems.Add($"refused with {status}, yet stored something: {before} -> {after}");
            }
            foreach (var problem in problems)
                failures.Add($"#{i} {fuzz.Describe()}: {problem}");
        }
        var summary = $"{sent} sent, {refused} refused, {seenOperations.Count} operations; statuses "
            + string.Join(", ", statuses.Select(s => $"{s.Key}×{s.Value}"));
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(40)) + $"\n({failures.Count} failures; {summary})");
        if (only == Pending.None)
        {
            Assert.True(sent > Requests * 3 / 4, summary);
            Assert.Equal(document.Count, seenOperations.Count);
            Assert.True(statuses.Keys.Any(s => s < 300) && statuses.Keys.Any(s => s is >= 400 and < 500), summary);
            var verify = await _fixtures.Client(KeyKind.Admin).GetJsonAsync("/api/v1/audit/verify");
            Assert.True(verify["valid"]!.GetValue<bool>(), verify.ToJsonString());
        }
        else
        {
            Assert.True(sent > 0, "no case of this kind was generated");
        }
    }

    private static List<string> Check(HttpMethod method, HttpResponseMessage response, byte[] body)
    {
        var problems = new List<string>();
        var status = (int)response.StatusCode;
        var text = Encoding.UTF8.GetString(body);
        if (status >= 500)
            problems.Add($"{status}: {text[..Math.Min(text.Length, 300)]}");
        if (!response.Headers.TryGetValues("X-Content-Type-Options", out var nosniff) || nosniff.SingleOrDefault() != "nosniff")
            problems.Add($"{status} without X-Content-Type-Options: nosniff");
        if (!response.Headers.TryGetValues("X-Frame-Options", out var frame) || frame.SingleOrDefault() != "DENY")
            problems.Add($"{status} without X-Frame-Options: DENY");
        if (response.Headers.Contains("Server"))
            problems.Add($"{status} with a Server header");
        // A HEAD answer has no body by HTTP's own rules.
        if (status is < 400 or >= 500 || method == HttpMethod.Head)
            return problems;
        if (response.Content.Headers.ContentType?.MediaType != "application/problem+json")
        {
            problems.Add($"{status} as '{response.Content.Headers.ContentType}', not a problem: '{text[..Math.Min(text.Length, 200)]}'");
            return problems;
        }
        try
        {
            var problem = JsonNode.Parse(text)!.AsObject();
            if (problem["type"]?.GetValue<string>() is not { } type || !type.StartsWith("/problems/", StringComparison.Ordinal))
                problems.Add($"{status} problem without a /problems/ type: {text[..Math.Min(text.Length, 200)]}");
            if (string.IsNullOrEmpty(problem["title"]?.GetValue<string>()))
                problems.Add($"{status} problem without a title");
            if (problem["status"]?.GetValue<int>() != status)
                problems.Add($"{status} problem whose status says {problem["status"]}");
            foreach (var leak in new[] { "Exception", "Tally.Api", "   at ", "FastEndpoints", "SQLite" })
                if (text.Contains(leak, StringComparison.Ordinal))
                    problems.Add($"{status} problem naming '{leak}': {text[..Math.Min(text.Length, 200)]}");
        }
        catch (Exception ex) when (ex is System.Text.Json.JsonException or InvalidOperationException)
        {
            problems.Add($"{status} problem that is not a JSON object: '{text[..Math.Min(text.Length, 200)]}'");
        }
        return problems;
    }

    private static async Task<(long Events, long Audit)> CountsAsync(System.Data.Common.DbConnection db) =>
        (await db.ExecuteScalarAsync<long>("SELECT count(*) FROM events"),
            await db.ExecuteScalarAsync<long>("SELECT count(*) FROM audit_log"));

    /// <summary>An accepted import writes later: the next request's counts must not see it land.</summary>
    private async Task WaitForImportAsync(KeyKind key, HttpResponseMessage accepted)
    {
        var location = accepted.Headers.Location?.OriginalString;
        Assert.NotNull(location);
        var client = _fixtures.Client(key == KeyKind.None ? KeyKind.Admin : key);
        for (var attempt = 0; attempt < 600; attempt++)
        {
            var state = await client.GetJsonAsync(location);
            if (state["status"]!.GetValue<string>() is "succeeded" or "failed")
                return;
            await Task.Delay(10, Ct);
        }
        Assert.Fail($"import {location} did not finish");
    }

    private enum KeyKind { Admin, Bound, None, Garbage }

    /// <summary>The keys and the rows the generated requests name: a unit, an event, a key, an import of the fuzzer's own.</summary>
    private sealed class Fixtures
    {
        private readonly Dictionary<KeyKind, HttpClient> _clients = [];

        public required string BoundUnit { get; init; }
        public required string OtherUnit { get; init; }
        public required string EventId { get; init; }
        public required string KeyId { get; init; }
        public required string ImportId { get; init; }

        public HttpClient Client(KeyKind kind) => _clients[kind];

        public static async Task<Fixtures> CreateAsync(TallyApp app)
        {
            var bound = await app.OrgUnitAsync(parent: "hedong");
            var other = await app.OrgUnitAsync(parent: "tianjin");
            var (_, boundSecret) = await app.CreateKeyAsync(
                ["events:write", "events:read", "totals:read", "audit:read"], bound, Unique.Code("fuzz"));
            // The id the generated DELETE /api-keys/{id} revokes: never the bound key the fuzzer sends.
            var (victimId, _) = await app.CreateKeyAsync(["events:read"], bound, Unique.Code("victim"));
            using var admin = app.Admin();
            var eventId = await admin.RecordAsync("reports.tianjin", "2024-03-05", 3, bound, externalId: "fuzz-seed");
            var import = await admin.PostAsync("/api/v1/imports?dryRun=true",
                new StringContent("metric,occurredOn,quantity,orgUnit\nreports.tianjin,2024-03-05,1,hedong\n", Encoding.UTF8, "text/csv"),
                Ct);
            Assert.Equal(HttpStatusCode.Accepted, import.StatusCode);
            var importId = (await import.ReadJsonAsync())["id"]!.GetValue<string>();
            var fixtures = new Fixtures
            {
                BoundUnit = bound, OtherUnit = other, EventId = eventId, KeyId = victimId, ImportId = importId,
            };
            fixtures._clients[KeyKind.Admin] = app.Admin();
            fixtures._clients[KeyKind.Bound] = app.Client(boundSecret);
            fixtures._clients[KeyKind.None] = app.Client(key: null);
            fixtures._clients[KeyKind.Garbage] = app.Client("tly_" + new string('x', 43));
            return fixtures;
        }
    }

    private sealed record OpenApiParameter(string Name, string In, JsonNode Schema, bool Required);

    private sealed record OpenApiOperation(string Method, string Template, IReadOnlyList<OpenApiParameter> Parameters,
        IReadOnlyList<string> ContentTypes, JsonNode? BodySchema, JsonObject Components)
    {
        public string Name => $"{Method} {Template}";
    }

    private static class OpenApiOperations
    {
        public static List<OpenApiOperation> Load()
        {
            var folder = new DirectoryInfo(AppContext.BaseDirectory);
            while (folder is not null && !File.Exists(Path.Combine(folder.FullName, "openapi", "v1.json")))
                folder = folder.Parent;
            Assert.NotNull(folder);
            var document = JsonNode.Parse(File.ReadAllText(Path.Combine(folder.FullName, "openapi", "v1.json")))!;
            var components = document["components"]!["schemas"]!.AsObject();
            var operations = new List<OpenApiOperation>();
            foreach (var (template, item) in document["paths"]!.AsObject())
            {
                foreach (var (method, node) in item!.AsObject())
                {
                    var parameters = (node!["parameters"]?.AsArray() ?? []).Select(p => new OpenApiParameter(
                        p!["name"]!.GetValue<string>(), p["in"]!.GetValue<string>(), p["schema"] ?? new JsonObject(),
                        p["required"]?.GetValue<bool>() == true)).ToList();
                    var content = node["requestBody"]?["content"]?.AsObject();
                    var types = content?.Select(c => c.Key).ToList() ?? [];
                    var schema = content?.FirstOrDefault().Value?["schema"];
                    operations.Add(new OpenApiOperation(method.ToUpperInvariant(), template, parameters, types, schema, components));
                }
            }
            return operations.OrderBy(o => o.Name, StringComparer.Ordinal).ToList();
        }
    }

    /// <summary>One generated request, kept as data so a failure can say what was sent.</summary>
    private sealed record FuzzCase(string Method, string Url, KeyKind Key, byte[]? Body, string? ContentType,
        IReadOnlyList<(string Name, string Value)> Headers, IReadOnlyList<string> Mutations, Pending Pending)
    {
        public HttpRequestMessage ToRequest()
        {
            var request = new HttpRequestMessage(new HttpMethod(Method), Url);
            if (Body is not null)
            {
                request.Content = new ByteArrayContent(Body);
                if (ContentType is not null)
                    request.Content.Headers.TryAddWithoutValidation("Content-Type", ContentType);
            }
            foreach (var (name, value) in Headers)
            {
                if (!request.Headers.TryAddWithoutValidation(name, value))
                    request.Content?.Headers.TryAddWithoutValidation(name, value);
            }
            return request;
        }

        public string Describe()
        {
            var url = Url.Length > 120 ? Url[..120] + "…" : Url;
            return $"{Method} {url} key={Key} type={ContentType ?? "-"} body={Body?.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"}B [{string.Join(", ", Mutations)}]";
        }
    }

    private sealed class RequestGenerator(Random random, Fixtures fixtures)
    {
        private static readonly string[] Methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "PROPFIND", "MKCOL"];

        private static readonly string[] HostileStrings =
        [
            "", " ", "' OR '1'='1'; --", "<script>alert(1)</script>", "../../etc/passwd", "%00", "\u0000", "\u202eevil",
            "河东区", "😀", "NaN", "-1", "0", "1e400", "99999999999999999999", "true", "null", "[]", "{}", "2024-02-30",
            "2024-13-01", "0000-01-01", "9999-12-31T23:59:59Z", "2025-01-06T09:30:00+25:00", "tianjin", "hedong",
            "key_00000000000000000000000000", "evt_00000000000000000000000000", "imp_x", new string('a', 65),
            new string('x', 3000), "a,b", "a b", "A", "dim.x", "=cmd|' /C calc'!A0", "\ud800",
        ];

        private static readonly string?[] ContentTypes =
        [
            null, "text/plain", "application/xml", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded",
            "application/json; charset=latin1", "application/json; charset=utf-16", "application/problem+json",
            "garbage", "text/csv", "application/x-ndjson", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/json", "*/*", "application/json, text/plain",
        ];

        private static readonly (string Name, string Value)[] ExtraHeaders =
        [
            ("Accept", "application/xml"), ("Accept", "text/csv"), ("Accept", "garbage/"), ("Accept", "*/*;q=abc"),
            ("Accept-Language", "en"), ("Accept-Language", "zh-CN,zh;q=0.9"), ("Accept-Language", "xx;q=2,,;"),
            ("X-Forwarded-For", "10.0.0.1, 999.1.1.1"), ("Content-Encoding", "gzip"), ("If-None-Match", "\"x\""),
            ("Range", "bytes=0-1"), ("Expect", "100-continue"), ("X-HTTP-Method-Override", "DELETE"),
            ("Origin", "https://evil.example"), ("Cookie", "a=b"), ("Authorization", "Basic dXNlcjpwYXNz"),
        ];

        private int _unique;

        private T Pick<T>(IReadOnlyList<T> items) => items[random.Next(items.Count)];

        private bool Chance(double p) => random.NextDouble() < p;

        public FuzzCase Make(OpenApiOperation operation, int index)
        {
            var mutations = new List<string>();
            var key = random.Next(20) switch { < 8 => KeyKind.Admin, < 15 => KeyKind.Bound, < 19 => KeyKind.None, _ => KeyKind.Garbage };
            var method = operation.Method;
            var pathValues = new Dictionary<string, string>(StringComparer.Ordinal);
            var query = new List<(string Name, string Value)>();
            foreach (var parameter in operation.Parameters)
            {
                var node = ValidValue(parameter.Name, parameter.Schema, operation.Components, index);
                var value = (node is JsonArray list ? list.FirstOrDefault() : node)?.ToString() ?? "x";
                if (parameter.In == "path")
                    pathValues[parameter.Name] = value;
                else if (parameter.Required || Chance(0.4))
                    query.Add((parameter.Name, value));
            }
            JsonNode? json = operation.BodySchema is null ? null : ValidValue("body", operation.BodySchema, operation.Components, index);
            byte[]? body = null;
            string? contentType = operation.ContentTypes.Count > 0 ? operation.ContentTypes[0] : null;
            var headers = new List<(string, string)>();
            var rounds = random.Next(4);
            for (var round = 0; round < rounds; round++)
            {
                switch (random.Next(10))
                {
                    case 0:
                        method = Pick(Methods);
                        mutations.Add("method " + method);
                        break;
                    case 1 when pathValues.Count > 0:
                        var name = Pick(pathValues.Keys.ToList());
                        // A NUL in the path is the web server's to refuse (the test host cannot even build such a request).
                        pathValues[name] = Pick(HostileStrings.Where(h => !h.Contains('\0', StringComparison.Ordinal) && h != "%00").ToList());
                        mutations.Add("path " + name);
                        break;
                    case 2 when operation.Parameters.Any(p => p.In == "query"):
                        var parameter = Pick(operation.Parameters.Where(p => p.In == "query").ToList());
                        query.RemoveAll(q => q.Name == parameter.Name);
                        query.Add((parameter.Name, Pick(HostileStrings)));
                        if (Chance(0.3))
                            query.Add((parameter.Name, Pick(HostileStrings)));
                        mutations.Add("query " + parameter.Name);
                        break;
                    case 3:
                        query.Add((Pick(["unknown", "dim.x", "limit", "$where", "a[b]", ""]), Pick(HostileStrings)));
                        mutations.Add("extra query");
                        break;
                    case 4 when json is JsonObject target:
                        MutateObject(target, mutations);
                        break;
                    case 5 when json is not null || operation.ContentTypes.Count > 0:
                        body = RawBody();
                        json = null;
                        mutations.Add("raw body");
                        break;
                    case 6:
                        contentType = Pick(ContentTypes);
                        mutations.Add("content type " + (contentType ?? "none"));
                        break;
                    case 7:
                        headers.Add(Pick(ExtraHeaders));
                        mutations.Add("header");
                        break;
                    case 8 when operation.ContentTypes.Count == 0:
                        body = Encoding.UTF8.GetBytes("{\"x\":1}");
                        contentType = "application/json";
                        mutations.Add("body on a route without one");
                        break;
                    default:
                        query.Clear();
                        mutations.Add("no query");
                        break;
                }
            }
            if (json is not null)
                body = Encoding.UTF8.GetBytes(json.ToJsonString());
            else if (body is null && operation.ContentTypes.Any(t => t != "application/json"))
                body = ImportBody(operation.ContentTypes, ref contentType);
            if (body is null && contentType is not null && !mutations.Any(m => m.StartsWith("content type", StringComparison.Ordinal)))
                contentType = null;
            // Content-Type travels on the content: a request with a type but no body sends an empty one.
            if (body is null && contentType is not null)
                body = [];

            var path = operation.Template;
            foreach (var (name, value) in pathValues)
                path = path.Replace("{" + name + "}", value.Length == 0 ? "%20" : Uri.EscapeDataString(value), StringComparison.Ordinal);
            var url = query.Count == 0 ? path
                : path + "?" + string.Join('&', query.Select(q => Uri.EscapeDataString(q.Name) + "=" + Uri.EscapeDataString(q.Value)));
            return new FuzzCase(method, url, key, body, contentType, headers, mutations, Classify(method, contentType));
        }

        private static Pending Classify(string method, string? contentType)
        {
            // A body method without Content-Type reaches a JSON route's 415 (the method may have been swapped onto one).
            if (contentType is null && method is "POST" or "PUT" or "PATCH")
                return Pending.NoContentTypeOnJsonRoute;
            return Pending.None;
        }

        private void MutateObject(JsonObject target, List<string> mutations)
        {
            var names = target.Select(p => p.Key).ToList();
            switch (random.Next(5))
            {
                case 0 when names.Count > 0:
                    var dropped = Pick(names);
                    target.Remove(dropped);
                    mutations.Add("drop " + dropped);
                    break;
                case 1:
                    target["unknownField"] = Pick(HostileStrings);
                    mutations.Add("unknown field");
                    break;
                case 2 when names.Count > 0:
                    var typed = Pick(names);
                    target[typed] = Pick<JsonNode?>([JsonValue.Create(1.5), JsonValue.Create(-1), JsonValue.Create(long.MaxValue),
                        JsonValue.Create(true), null, new JsonArray(), new JsonObject(), JsonValue.Create("five")]);
                    mutations.Add("wrong type " + typed);
                    break;
                case 3 when names.Count > 0:
                    var hostile = Pick(names);
                    target[hostile] = Pick(HostileStrings);
                    mutations.Add("hostile " + hostile);
                    break;
                default:
                    var listed = names.FirstOrDefault(n => target[n] is JsonArray);
                    if (listed is null)
                        goto case 1;
                    var items = target[listed]!.AsArray();
                    var first = items.FirstOrDefault()?.DeepClone() ?? JsonValue.Create("x");
                    for (var i = 0; i < random.Next(1, 300); i++)
                        items.Add(first.DeepClone());
                    mutations.Add("long " + listed);
                    break;
            }
        }

        private byte[] RawBody() => random.Next(8) switch
        {
            0 => [],
            1 => "{\"metric\":"u8.ToArray(),
            2 => Encoding.UTF8.GetBytes(new string('[', 5000) + new string(']', 5000)),
            3 => [0xFF, 0xFE, 0x00, 0x7B],
            4 => "null"u8.ToArray(),
            5 => "{} {}"u8.ToArray(),
            6 => Encoding.UTF8.GetBytes("{" + string.Join(',', Enumerable.Range(0, 2000).Select(i => $"\"k{i}\":1")) + "}"),
            _ => RandomBytes(random.Next(1, 2048)),
        };

        private byte[] RandomBytes(int length)
        {
            var bytes = new byte[length];
            random.NextBytes(bytes);
            return bytes;
        }

        /// <summary>A small import file: valid, malformed, or bytes that only pretend to be one.</summary>
        private byte[] ImportBody(IReadOnlyList<string> types, ref string? contentType)
        {
            contentType ??= Pick(types);
            return random.Next(6) switch
            {
                0 => Encoding.UTF8.GetBytes($"metric,occurredOn,quantity,orgUnit\nreports.tianjin,2024-03-05,1,{fixtures.BoundUnit}\n"),
                1 => Encoding.UTF8.GetBytes($"{{\"metric\":\"reports.tianjin\",\"occurredOn\":\"2024-03-05\",\"quantity\":1,\"orgUnit\":\"{fixtures.OtherUnit}\"}}\n{{"),
                2 => Encoding.UTF8.GetBytes("指标,日期,数量,填报单位\n举报涉津有害信息及敏感线索,2024-03-05,x,河东\n\"unterminated"),
                3 => "PK\u0003\u0004garbage"u8.ToArray(),
                4 => Encoding.UTF8.GetBytes("a,b,c\n" + string.Concat(Enumerable.Repeat("=1+1,\"x\"\"y\",\u0000\n", 200))),
                _ => RandomBytes(random.Next(1, 4096)),
            };
        }

        /// <summary>A value the schema accepts, with the fuzzer's own rows for names the document cannot know.</summary>
        private JsonNode? ValidValue(string name, JsonNode schema, JsonObject components, int index, int depth = 0)
        {
            if (schema["$ref"]?.GetValue<string>() is { } reference)
                schema = components[reference["#/components/schemas/".Length..]]!;
            if (depth > 4)
                return null;
            if (schema["enum"] is JsonArray options && options.Count > 0)
                return options[random.Next(options.Count)]!.DeepClone();
            var unique = Interlocked.Increment(ref _unique);
            switch (name)
            {
                case "metric": return schema["type"]?.GetValue<string>() == "array" ? new JsonArray("reports.tianjin") : "reports.tianjin";
                case "orgUnit" or "parent": return Chance(0.7) ? fixtures.BoundUnit : Pick(["hedong", "tianjin", fixtures.OtherUnit]);
                case "campaign": return null;
                case "code": return $"fuzz-{index}-{unique}";
                case "source": return Chance(0.5) ? "fuzz-shared" : $"fuzz-src-{unique}";
                case "externalId": return Chance(0.5) ? "fuzz-seed" : $"fuzz-ext-{unique}";
                case "id": return Pick([fixtures.EventId, fixtures.KeyId, fixtures.ImportId, "evt_missing"]);
                case "year": return Pick([2024, 2025, 1999]);
                case "scopes": return new JsonArray(Pick(["events:read", "events:write", "admin"]));
                case "occurredOn" or "from" or "to" or "startsOn": return "2024-03-05";
                case "endsOn": return "2024-12-31";
                case "asOf" or "recordedAfter" or "after": return "2025-01-06T09:30:00Z";
                case "quantity": return random.Next(1, 100);
                case "limit": return random.Next(1, 20);
                case "cursor" or "knownHead": return null;
                case "dimensions": return new JsonObject();
                case "reportTemplate": return "开展活动{value}次";
                case "reason" or "name" or "nameEn" or "note" or "description" or "unit": return "fuzz " + unique;
            }
            var type = schema["type"]?.GetValue<string>();
            switch (type)
            {
                case "object":
                    var result = new JsonObject();
                    foreach (var (property, propertySchema) in schema["properties"]?.AsObject() ?? [])
                        if (propertySchema is not null)
                            result[property] = ValidValue(property, propertySchema, components, index, depth + 1);
                    return result;
                case "array":
                    var item = schema["items"] is { } items ? ValidValue(name, items, components, index, depth + 1) : null;
                    return item is null ? new JsonArray() : new JsonArray(item);
                case "integer" or "number":
                    return 1;
                case "boolean":
                    return Chance(0.5);
                case "string":
                    return schema["format"]?.GetValue<string>() switch
                    {
                        "date" => "2024-03-05",
                        "date-time" => "2025-01-06T09:30:00Z",
                        _ => "fuzz",
                    };
                default:
                    return null;
            }
        }
    }
}
