using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

[assembly: AssemblyFixture(typeof(Tally.Api.Tests.Infrastructure.TallyApp))]

namespace Tally.Api.Tests.Infrastructure;

/// <summary>The service over a temp database: one per test assembly, or one per test that needs its own settings.</summary>
public sealed class TallyApp : WebApplicationFactory<Program>, IAsyncLifetime
{
    public const string AdminKey = "tly_test-admin-key-0123456789abcdefghijklmnopqrstuv";

    private readonly Dictionary<string, string?> _settings;
    private readonly Action<IServiceCollection>? _services;

    public TallyApp() : this(new Dictionary<string, string?>())
    {
    }

    /// <summary>A separate app with its own database and settings (and services replaced), for a test that needs them.</summary>
    public static async Task<TallyApp> StartAsync(IDictionary<string, string?> settings, Action<IServiceCollection>? services = null)
    {
        var app = new TallyApp(settings, services);
        await app.InitializeAsync();
        return app;
    }

    /// <summary>
    /// A separate app served by Kestrel on 127.0.0.1:<paramref name="port"/> (0, the default: a free port the system
    /// picks; a few older tests of this project use 5380-5389), for what only a real server does: header size limits,
    /// chunked bodies over the wire, a browser. Its clients talk over the socket; <see cref="BaseAddress"/> is where.
    /// </summary>
    public static TallyApp StartKestrel(IDictionary<string, string?> settings, int port = 0)
    {
        var app = new TallyApp(settings);
        app.UseKestrel(o => o.Listen(System.Net.IPAddress.Loopback, port));
        app.StartServer();
        var bound = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features
            .Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses.First();
        app.ClientOptions.BaseAddress = new Uri(bound.Replace("[::1]", "127.0.0.1", StringComparison.Ordinal));
        return app;
    }

    /// <summary>The server's address, ending in a slash (for a Kestrel app, the socket it listens on).</summary>
    public Uri BaseAddress => ClientOptions.BaseAddress;

    private TallyApp(IDictionary<string, string?> settings, Action<IServiceCollection>? services = null)
    {
        _services = services;
        Folder = Path.Combine(Path.GetTempPath(), "tally-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Folder);
        // A test may place the database itself (on a size-limited filesystem, say; or the database of an app it stopped);
        // OpenDatabase then reads that one. Otherwise the suite's store (TestStore) gets a new one for this app.
        settings.TryGetValue("ConnectionStrings:Tally", out var placed);
        if (placed is not null && Tally.Api.Data.Database.IsPostgres(placed))
        {
            ConnectionString = placed;
            DatabasePath = "";
        }
        else if (placed is null && TestStore.OnPostgres)
        {
            ConnectionString = TestStore.NewPostgresDatabase();
            _ownsPostgresDatabase = true;
            DatabasePath = "";
        }
        else
        {
            DatabasePath = placed is not null
                ? new SqliteConnectionStringBuilder(placed).DataSource
                : Path.Combine(Folder, "tally.db");
            ConnectionString = $"Data Source={DatabasePath}";
        }
        _settings = new Dictionary<string, string?>(settings)
        {
            ["ConnectionStrings:Tally"] = ConnectionString,
            ["Tally:BootstrapAdminKey"] = AdminKey,
            // Not the service's default address: a test host never depends on whatever else holds 127.0.0.1:5080.
            ["urls"] = "http://127.0.0.1:0",
            // Imports store in pieces of a few rows, so every import test goes through pieces, other writers between them,
            // and the publish that makes them visible at once (a test that times nothing may still set its own).
            ["Tally:Limits:Imports:PieceRows"] = "5",
        };
        foreach (var (k, v) in settings)
            _settings[k] = v;
    }

    public string Folder { get; }

    /// <summary>The SQLite file of this app (empty on PostgreSQL).</summary>
    public string DatabasePath { get; }

    /// <summary>This app's store: pass it as <c>ConnectionStrings:Tally</c> to start another app on the same data.</summary>
    public string ConnectionString { get; }

    private readonly bool _ownsPostgresDatabase;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        builder.ConfigureAppConfiguration((_, config) => config.AddInMemoryCollection(_settings));
        builder.ConfigureLogging(logging => logging.SetMinimumLevel(LogLevel.Warning));
        if (_services is not null)
            builder.ConfigureTestServices(_services);
    }

    /// <summary>The running host, for tests that stop it as a service manager would (SIGTERM stops the host).</summary>
    public IHost? RunningHost { get; private set; }

    protected override IHost CreateHost(IHostBuilder builder)
    {
        var host = base.CreateHost(builder);
        RunningHost = host;
        return host;
    }

    // FastEndpoints keeps one process-wide service resolver, set while a host starts; hosts start one at a time
    // so each builds its validators from its own services.
    private static readonly Lock StartLock = new();

    public ValueTask InitializeAsync()
    {
        lock (StartLock)
            _ = Server; // starts the host: migrations, writer, bootstrap key
        return ValueTask.CompletedTask;
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        SqliteConnection.ClearAllPools();
        if (_ownsPostgresDatabase)
            TestStore.DropPostgresDatabase(ConnectionString);
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open by the OS: the temp folder is cleaned up later.
        }
    }

    /// <summary>
    /// A client with the key (none: null). It sends <c>Accept-Language: en</c> unless told otherwise, so assertions on a
    /// message read its English text; a test of the default language (Chinese) passes <c>language: null</c>.
    /// </summary>
    public HttpClient Client(string? key = AdminKey, string? language = "en")
    {
        var client = CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, BaseAddress = ClientOptions.BaseAddress });
        if (key is not null)
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        if (language is not null)
            client.DefaultRequestHeaders.AcceptLanguage.ParseAdd(language);
        return client;
    }

    public HttpClient Admin() => Client();

    /// <summary>Creates a key with the given scopes (optionally bound to an org unit) and returns its secret.</summary>
    public async Task<string> KeyAsync(string[] scopes, string? orgUnit = null, string? source = null) =>
        (await CreateKeyAsync(scopes, orgUnit, source)).Secret;

    public async Task<(string Id, string Secret)> CreateKeyAsync(string[] scopes, string? orgUnit = null, string? source = null)
    {
        using var admin = Admin();
        var response = await admin.PostAsJsonAsync("/api/v1/api-keys", new
        {
            name = "test " + string.Join('+', scopes),
            source = source ?? Unique.Code("src"),
            scopes,
            orgUnit,
        });
        var body = await response.ReadJsonAsync();
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.Created, $"{response.StatusCode}: {body.ToJsonString()}");
        return (body["id"]!.GetValue<string>(), body["key"]!.GetValue<string>());
    }

    public async Task<HttpClient> ClientWithAsync(string[] scopes, string? orgUnit = null, string? source = null) =>
        Client(await KeyAsync(scopes, orgUnit, source));

    /// <summary>Creates an org unit (under hedong unless told) for a test's own data.</summary>
    public async Task<string> OrgUnitAsync(string? parent = "hedong", string? code = null)
    {
        code ??= Unique.Code("unit");
        using var admin = Admin();
        var response = await admin.PostAsJsonAsync("/api/v1/org-units", new { code, name = "测试单位 " + code, parent });
        Assert.Equal(System.Net.HttpStatusCode.Created, response.StatusCode);
        return code;
    }

    /// <summary>A connection to this app's store, to read back what a request stored (SQL both providers read).</summary>
    public System.Data.Common.DbConnection OpenDatabase() => TestStore.Open(ConnectionString);
}

public static class Unique
{
    public static string Code(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..Math.Min(60, prefix.Length + 33)];
}

public static class HttpExtensions
{
    public static async Task<JsonNode> ReadJsonAsync(this HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return JsonNode.Parse(text) ?? throw new InvalidOperationException("Empty body");
    }

    public static Task<HttpResponseMessage> PostJsonAsync(this HttpClient client, string url, string json) =>
        client.PostAsync(url, new StringContent(json, System.Text.Encoding.UTF8, "application/json"));

    public static Task<HttpResponseMessage> PutJsonAsync(this HttpClient client, string url, string json) =>
        client.PutAsync(url, new StringContent(json, System.Text.Encoding.UTF8, "application/json"));

    /// <summary>Asserts a problem+json response with the contract's type and returns its body.</summary>
    public static async Task<JsonNode> AssertProblemAsync(this HttpResponseMessage response, int status, string type)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"Expected {status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var body = JsonNode.Parse(text)!;
        Assert.Equal(type, body["type"]!.GetValue<string>());
        Assert.Equal(status, body["status"]!.GetValue<int>());
        Assert.False(string.IsNullOrEmpty(body["title"]?.GetValue<string>()));
        Assert.False(string.IsNullOrEmpty(body["detail"]?.GetValue<string>()));
        Assert.DoesNotContain("Exception", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Tally.Api", text, StringComparison.Ordinal);
        return body;
    }

    public static async Task<JsonNode> AssertValidationAsync(this HttpResponseMessage response, params string[] fields)
    {
        var body = await response.AssertProblemAsync(400, "/problems/validation");
        var errors = body["errors"]!.AsObject();
        foreach (var field in fields)
            Assert.True(errors.ContainsKey(field), $"Expected an error for '{field}', got: {errors.ToJsonString()}");
        return body;
    }
}
