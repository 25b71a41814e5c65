using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;

namespace Tally.Api.Cli;

/// <summary>What <c>import FILE [options]</c> was asked to do.</summary>
public sealed record ImportUploadOptions(string File, bool DryRun, string Mode, string? Name, string? Sheet, Uri Server, string Key);

/// <summary>
/// The operator's import: uploads a file to a running server over HTTP (so every write still passes its one writer),
/// follows GET /imports/{id} with a progress bar on stderr, and prints the summary as a table on stdout.
/// Exit codes: 0 succeeded, 1 the import failed, 3 the server refused or could not be reached.
/// </summary>
public sealed class ImportUpload(ImportUploadOptions options, TextWriter output, TextWriter progress)
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    public async Task<int> RunAsync(CancellationToken ct)
    {
        var contentType = ContentTypeOf(options.File);
        if (contentType is null)
        {
            await progress.WriteLineAsync($"Cannot tell the file type of {options.File}: use .csv, .ndjson (.jsonl) or .xlsx.");
            return 2;
        }
        using var http = new HttpClient { BaseAddress = options.Server, Timeout = Timeout.InfiniteTimeSpan };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", options.Key);
        try
        {
            var location = await UploadAsync(http, contentType, ct);
            if (location is null)
                return 3;
            var import = await FollowAsync(http, location, ct);
            if (import is null)
                return 3;
            PrintSummary(import);
            return import["status"]?.GetValue<string>() == "succeeded" ? 0 : 1;
        }
        catch (HttpRequestException ex)
        {
            await progress.WriteLineAsync($"Cannot reach {options.Server}: {ex.Message}");
            return 3;
        }
    }

    public static string? ContentTypeOf(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".csv" => "text/csv",
        ".ndjson" or ".jsonl" => "application/x-ndjson",
        ".xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        _ => null,
    };

    private async Task<Uri?> UploadAsync(HttpClient http, string contentType, CancellationToken ct)
    {
        var query = new List<string> { "dryRun=" + (options.DryRun ? "true" : "false"), "mode=" + options.Mode };
        if (options.Name is not null)
            query.Add("name=" + Uri.EscapeDataString(options.Name));
        if (options.Sheet is not null)
            query.Add("sheet=" + Uri.EscapeDataString(options.Sheet));
        await using var file = File.OpenRead(options.File);
        using var content = new StreamContent(file, 64 * 1024);
        content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        await progress.WriteLineAsync($"Uploading {options.File} ({file.Length / 1024.0 / 1024.0:0.0} MiB)...");
        using var response = await http.PostAsync("/api/v1/imports?" + string.Join('&', query), content, ct);
        if ((int)response.StatusCode != 202 || response.Headers.Location is null)
        {
            await progress.WriteLineAsync($"The server refused the import ({(int)response.StatusCode}): {await ProblemText(response, ct)}");
            return null;
        }
        return response.Headers.Location;
    }

    private async Task<JsonNode?> FollowAsync(HttpClient http, Uri location, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        TimeSpan? storingSince = null;
        while (true)
        {
            using var response = await http.GetAsync(location, ct);
            if (!response.IsSuccessStatusCode)
            {
                await progress.WriteLineAsync($"\nCannot read the import ({(int)response.StatusCode}): {await ProblemText(response, ct)}");
                return null;
            }
            var import = JsonNode.Parse(await response.Content.ReadAsStringAsync(ct))!;
            var status = import["status"]!.GetValue<string>();
            var rows = import["rows"]!.GetValue<int>();
            var processed = import["processed"]!.GetValue<int>();
            if (processed > 0 && storingSince is null)
                storingSince = clock.Elapsed;
            await progress.WriteAsync("\r" + ProgressLine(status, rows, processed, clock.Elapsed, storingSince));
            if (status is "succeeded" or "failed")
            {
                await progress.WriteLineAsync();
                return import;
            }
            await Task.Delay(PollInterval, ct);
        }
    }

    /// <summary>Checking: rows read and their rate. Storing: a bar of processed over rows, the rate and the time left.</summary>
    public static string ProgressLine(string status, int rows, int processed, TimeSpan elapsed, TimeSpan? storingSince)
    {
        const int width = 30;
        if (status == "queued")
            return "queued...".PadRight(80);
        if (storingSince is not { } since || rows == 0)
        {
            var checkRate = rows / Math.Max(elapsed.TotalSeconds, 0.001);
            return string.Create(CultureInfo.InvariantCulture, $"checking: {rows,10:N0} rows read  {checkRate,10:N0} rows/s").PadRight(80);
        }
        var fraction = Math.Clamp(processed / (double)rows, 0, 1);
        var filled = (int)Math.Round(fraction * width);
        var storing = Math.Max((elapsed - since).TotalSeconds, 0.001);
        var rate = processed / storing;
        var eta = rate > 0 ? TimeSpan.FromSeconds((rows - processed) / rate) : TimeSpan.Zero;
        return string.Create(CultureInfo.InvariantCulture,
            $"storing: [{new string('#', filled)}{new string('.', width - filled)}] {(int)(fraction * 100),3}% {processed:N0}/{rows:N0}  {rate:N0} rows/s  ETA {eta:mm\\:ss}").PadRight(80);
    }

    private void PrintSummary(JsonNode import)
    {
        var summary = import["summary"]!;
        output.WriteLine($"import {import["id"]}  {import["status"]}{(import["dryRun"]!.GetValue<bool>() ? " (dry run: nothing stored)" : "")}");
        output.WriteLine("+------------+------------+");
        foreach (var (label, value) in (ReadOnlySpan<(string, JsonNode?)>)
                 [("rows", import["rows"]), ("created", summary["created"]), ("unchanged", summary["unchanged"]),
                  ("superseded", summary["superseded"]), ("invalid", summary["invalid"]), ("conflicts", summary["conflicts"])])
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {label,-10} | {value!.GetValue<int>(),10:N0} |"));
        output.WriteLine("+------------+------------+");
        if (import["detail"]?.GetValue<string>() is { } detail)
            output.WriteLine(detail);
        var errors = import["errors"]!.AsArray();
        foreach (var error in errors.Take(20))
            output.WriteLine($"  row {error!["row"]}, {error["field"]}: {error["message"]}");
        if (errors.Count > 20)
            output.WriteLine($"  ... and {errors.Count - 20} more (GET {import["id"]} lists the first 1000).");
    }

    private static async Task<string> ProblemText(HttpResponseMessage response, CancellationToken ct)
    {
        var body = await response.Content.ReadAsStringAsync(ct);
        try
        {
            var problem = JsonNode.Parse(body);
            var errors = problem?["errors"]?.ToJsonString();
            return problem?["detail"]?.GetValue<string>() + (errors is null ? "" : " " + errors);
        }
        catch (System.Text.Json.JsonException)
        {
            return body.Length > 200 ? body[..200] : body;
        }
    }
}
