using System.Text.Json.Nodes;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.OpenApi;

public sealed class OpenApiDocumentTests(TallyApp app)
{
    /// <summary>Run the tests with TALLY_UPDATE_OPENAPI=1 to rewrite openapi/v1.json on purpose.</summary>
    [Fact]
    public async Task Committed_document_matches_what_the_server_generates()
    {
        using var client = app.Client(key: null);
        var generated = await client.GetStringAsync("/swagger/v1/swagger.json", TestContext.Current.CancellationToken);
        var path = Path.Combine(RepoRoot(), "openapi", "v1.json");
        var normalized = JsonNode.Parse(generated)!.ToJsonString(new System.Text.Json.JsonSerializerOptions
        {
            WriteIndented = true,
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        }) + "\n";
        if (Environment.GetEnvironmentVariable("TALLY_UPDATE_OPENAPI") == "1")
            await File.WriteAllTextAsync(path, normalized, TestContext.Current.CancellationToken);
        Assert.True(File.Exists(path), "openapi/v1.json is missing: run the tests once with TALLY_UPDATE_OPENAPI=1.");
        var committed = await File.ReadAllTextAsync(path, TestContext.Current.CancellationToken);
        Assert.True(committed == normalized,
            "openapi/v1.json differs from the generated document: run the tests with TALLY_UPDATE_OPENAPI=1 and commit the result.");
    }

    [Fact]
    public async Task Every_route_lists_its_path_parameters_and_problem_responses()
    {
        using var client = app.Client(key: null);
        var doc = JsonNode.Parse(await client.GetStringAsync("/swagger/v1/swagger.json", TestContext.Current.CancellationToken))!;
        foreach (var (path, item) in doc["paths"]!.AsObject())
        {
            foreach (var (method, operation) in item!.AsObject())
            {
                Assert.False(string.IsNullOrEmpty(operation!["summary"]?.GetValue<string>()), $"{method} {path} has no summary");
                var parameters = operation["parameters"]?.AsArray().Select(p => p!["name"]!.GetValue<string>()).ToList() ?? [];
                foreach (var segment in path.Split('/').Where(s => s.StartsWith('{')))
                    Assert.Contains(segment.Trim('{', '}'), parameters);
                if (method is "get" or "delete")
                    Assert.Null(operation["requestBody"]);
                if (path.StartsWith("/api/v1", StringComparison.Ordinal))
                {
                    var responses = operation["responses"]!.AsObject();
                    foreach (var status in new[] { "400", "401", "403" })
                        Assert.True(responses[status]?["content"]?["application/problem+json"] is not null,
                            $"{method} {path} lacks a {status} problem response");
                }
            }
        }
    }

    public static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Tally.slnx")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Cannot find the repository root (Tally.slnx).");
    }
}
