using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Security;

/// <summary>
/// Over a real socket: what the web server layer refuses is a problem with the security headers wherever the
/// application sees the request (CONTRACT.md, Conventions), Kestrel's own limits sitting above the application's.
/// </summary>
public sealed class WebServerRejectionTests : IAsyncLifetime
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private TallyApp? _app;
    private int _port;

    private TallyApp App => _app!;

    public ValueTask InitializeAsync()
    {
        _port = FreePort();
        _app = TallyApp.StartKestrel(new Dictionary<string, string?>(), _port);
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
            await _app.DisposeAsync();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static void AssertSecurityHeaders(HttpResponseMessage response)
    {
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
        Assert.False(response.Headers.Contains("Server"));
    }

    [Fact]
    public async Task A_json_route_without_a_content_type_or_with_another_is_415_unsupported_media_type()
    {
        using var client = await App.ClientWithAsync(["events:write"]);
        const string body = """{"metric":"notices.issued","occurredOn":"2024-02-01","quantity":1,"orgUnit":"hedong"}""";
        var none = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        var other = new StringContent(body, Encoding.UTF8, "text/plain");

        foreach (var content in new HttpContent[] { none, other })
        {
            var response = await client.PostAsync("/api/v1/events", content, Ct);
            await response.AssertProblemAsync(415, "/problems/unsupported-media-type");
            AssertSecurityHeaders(response);
        }
    }

    [Fact]
    public async Task A_url_over_MaxUrlBytes_is_414_uri_too_long_as_a_problem()
    {
        using var client = App.Admin();
        var response = await client.GetAsync("/api/v1/events?cursor=" + new string('c', 9000), Ct);

        var problem = await response.AssertProblemAsync(414, "/problems/uri-too-long");
        Assert.Contains("8192", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        AssertSecurityHeaders(response);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/events?limit=1", Ct)).StatusCode);
    }

    [Fact]
    public async Task Headers_over_MaxHeaderBytes_are_431_headers_too_large_as_a_problem()
    {
        using var client = App.Admin();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/events?limit=1");
        request.Headers.TryAddWithoutValidation("X-Padding", new string('h', 40_000));
        var response = await client.SendAsync(request, Ct);

        var problem = await response.AssertProblemAsync(431, "/problems/headers-too-large");
        Assert.Contains("32768", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        AssertSecurityHeaders(response);
    }

    [Fact]
    public async Task A_header_value_with_non_ascii_bytes_is_a_400_problem()
    {
        var (status, headers, body) = await RawAsync(
            "GET /health/live HTTP/1.1\r\nHost: x\r\nX-Note: caf\u00e9\r\nConnection: close\r\n\r\n", Encoding.Latin1);

        Assert.Equal(400, status);
        Assert.Contains("application/problem+json", headers, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("X-Content-Type-Options: nosniff", headers, StringComparison.OrdinalIgnoreCase);
        var problem = JsonNode.Parse(body)!;
        Assert.Equal("/problems/validation", problem["type"]!.GetValue<string>());
        Assert.NotNull(problem["errors"]!["headers.X-Note"]);
    }

    [Fact]
    public async Task A_nul_byte_escaped_in_the_query_is_a_problem_and_in_the_path_is_refused_by_the_web_server_without_a_Server_header()
    {
        var (status, headers, body) = await RawAsync(
            $"GET /api/v1/events?cursor=a%00b HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TallyApp.AdminKey}\r\nConnection: close\r\n\r\n",
            Encoding.ASCII);
        Assert.Equal(400, status);
        Assert.Contains("application/problem+json", headers, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("X-Content-Type-Options: nosniff", headers, StringComparison.OrdinalIgnoreCase);
        Assert.Equal("/problems/validation", JsonNode.Parse(body)!["type"]!.GetValue<string>());

        // Kestrel refuses a NUL in the path while parsing the request line, before the application sees it.
        var (pathStatus, pathHeaders, _) = await RawAsync(
            "GET /api/v1/events/evt_%00x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", Encoding.ASCII);
        Assert.Equal(400, pathStatus);
        Assert.DoesNotContain("Server:", pathHeaders, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>One request written byte for byte (HttpClient refuses to send what these tests need), read to the end.</summary>
    private async Task<(int Status, string Headers, string Body)> RawAsync(string request, Encoding encoding)
    {
        using var socket = new TcpClient();
        await socket.ConnectAsync(IPAddress.Loopback, _port, Ct);
        await using var stream = socket.GetStream();
        await stream.WriteAsync(encoding.GetBytes(request), Ct);
        using var read = new MemoryStream();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        await stream.CopyToAsync(read, timeout.Token);
        // Chunk sizes count bytes, and a Chinese body has more bytes than characters: split and unchunk the bytes.
        var bytes = read.ToArray();
        var split = bytes.AsSpan().IndexOf("\r\n\r\n"u8);
        Assert.True(split > 0, Encoding.UTF8.GetString(bytes));
        var head = Encoding.UTF8.GetString(bytes, 0, split);
        var body = bytes[(split + 4)..];
        if (head.Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase))
            body = Unchunk(body);
        return (int.Parse(head.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture), head, Encoding.UTF8.GetString(body));
    }

    private static byte[] Unchunk(byte[] chunked)
    {
        using var result = new MemoryStream();
        var at = 0;
        while (true)
        {
            var end = at + chunked.AsSpan(at).IndexOf("\r\n"u8);
            var size = Convert.ToInt32(Encoding.ASCII.GetString(chunked, at, end - at), 16);
            if (size == 0)
                return result.ToArray();
            result.Write(chunked, end + 2, size);
            at = end + 2 + size + 2;
        }
    }
}
