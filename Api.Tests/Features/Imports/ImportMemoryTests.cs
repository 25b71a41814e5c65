using System.Diagnostics;
using Tally.Api.Tests.Infrastructure;
using static Tally.Api.Tests.Features.Imports.HostileFiles;

namespace Tally.Api.Tests.Features.Imports;

/// <summary>
/// Issue 17, findings 1 and 2: the files of the attack, built here and small on disk, are refused at the default limits and
/// the process's memory stays bounded while the server takes them. Alone (SeparateApps), so no other test's memory counts.
/// </summary>
[Collection(nameof(SeparateApps))]
public sealed class ImportMemoryTests
{
    private const long MaxGrowth = 300L * 1024 * 1024;

    [Fact]
    public async Task Hostile_import_files_are_refused_413_and_the_process_rss_grows_less_than_300_MB()
    {
        await using var app = await TallyApp.StartAsync(new Dictionary<string, string?>());
        using var client = await app.ClientWithAsync(["events:write"]);
        var files = new (string Name, Func<HttpContent> Content, string Type, string Setting)[]
        {
            ("ZZZZZZ1 cell", Bytes(CellAtZzzzzz()), Xlsx, "MaxColumns"),
            ("900-million-character shared string", Bytes(HugeSharedString(900_000_000)), Xlsx, "MaxCellChars"),
            ("100k rows reaching XFD", Bytes(RowsReachingXfd()), Xlsx, "MaxColumns"),
            ("300 MB NDJSON line", () => new StreamContent(new GeneratedBodyStream("{\"note\":\""u8.ToArray(), (byte)'x', 300L * 1024 * 1024)),
                "application/x-ndjson", "MaxLineBytes"),
        };
        Assert.True(files.Take(3).All(f => f.Content().Headers.ContentLength < 2 * 1024 * 1024), "each file is small on disk");

        GC.Collect();
        GC.WaitForPendingFinalizers();
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        var before = process.WorkingSet64;
        var peak = before;
        using var stop = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            using var self = Process.GetCurrentProcess();
            while (!stop.IsCancellationRequested)
            {
                self.Refresh();
                peak = Math.Max(peak, self.WorkingSet64);
                await Task.Delay(5, CancellationToken.None);
            }
        }, CancellationToken.None);

        foreach (var (name, content, type, setting) in files)
        {
            for (var attempt = 0; attempt < 2; attempt++)
            {
                var response = await PostAsync(client, content(), type, "dryRun=true");
                Assert.True((int)response.StatusCode == 413, $"{name}: {(int)response.StatusCode}");
                await AssertLimitAsync(response, setting);
            }
        }
        await stop.CancelAsync();
        await sampler;

        TestContext.Current.TestOutputHelper?.WriteLine($"RSS {before / (1024 * 1024)} MB before, peak growth {(peak - before) / (1024 * 1024)} MB");
        Assert.True(peak - before < MaxGrowth, $"RSS grew by {(peak - before) / (1024 * 1024)} MB (from {before / (1024 * 1024)} MB)");
    }

    private static Func<HttpContent> Bytes(byte[] file) => () => new ByteArrayContent(file);
}
