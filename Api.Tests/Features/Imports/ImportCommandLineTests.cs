using Dapper;
using Tally.Api.Cli;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Imports;

/// <summary>The operator's import command against a real Kestrel server on a loopback port.</summary>
public sealed class ImportCommandLineTests
{
    private const int Port = 5480;
    private const int NothingListens = 5481;

    [Fact]
    public async Task The_import_command_uploads_follows_and_prints_the_summary_with_exit_codes_for_each_outcome()
    {
        await using var server = TallyApp.StartKestrel(new Dictionary<string, string?>(), Port);
        var unit = await server.OrgUnitAsync();
        var key = await server.KeyAsync(["events:write"]);
        var file = Path.Combine(server.Folder, "季度数据.csv");
        await File.WriteAllTextAsync(file,
            $"指标,日期,数量,填报单位\n下发问题提示单,2024-01-05,2,{unit}\n约谈自媒体账号,2024-01-06,3,{unit}\n",
            TestContext.Current.CancellationToken);
        var url = $"http://127.0.0.1:{Port}";

        var (dryRun, dryOutput, _) = Run(["import", file, "--dry-run", "--name", "q1", "--url", url], key);
        var (real, realOutput, realProgress) = Run(["import", file, "--name", "q1", "--url", url], null, keyArgument: key);
        await File.WriteAllTextAsync(file, $"指标,日期,数量,填报单位\n下发问题提示单,2024-01-05,20,{unit}\n",
            TestContext.Current.CancellationToken);
        var (conflict, conflictOutput, _) = Run(["import", file, "--name", "q1", "--url", url], key);
        var (unreachable, _, unreachableProgress) = Run(["import", file, "--name", "q1", "--url", $"http://127.0.0.1:{NothingListens}"], key);
        var (noKey, _, _) = Run(["import", file, "--url", url], null);

        Assert.Equal(0, dryRun);
        Assert.Contains("dry run", dryOutput, StringComparison.Ordinal);
        Assert.Equal(0, real);
        Assert.Matches(@"\| created\s+\|\s+2 \|", realOutput);
        Assert.Contains("succeeded", realOutput, StringComparison.Ordinal);
        Assert.Contains("rows/s", realProgress, StringComparison.Ordinal);
        Assert.Equal(1, conflict);
        Assert.Matches(@"\| conflicts\s+\|\s+1 \|", conflictOutput);
        Assert.Contains("row 2, externalId", conflictOutput, StringComparison.Ordinal);
        Assert.Equal(3, unreachable);
        Assert.Contains("Cannot reach", unreachableProgress, StringComparison.Ordinal);
        Assert.Equal(2, noKey);
        using var db = server.OpenDatabase();
        Assert.Equal([2L, 3L], db.Query<long>("SELECT quantity FROM events WHERE org_unit = @unit ORDER BY quantity", new { unit }));
    }

    [Theory]
    [InlineData("queued", 0, 0, null, "queued")]
    [InlineData("running", 5000, 0, null, "checking:      5,000 rows read")]
    [InlineData("running", 1000, 500, 1.0, "[###############...............]  50% 500/1,000")]
    public void The_progress_line_shows_the_phase_the_bar_and_the_rate(string status, int rows, int processed, double? storingSince,
        string expected)
    {
        var line = ImportUpload.ProgressLine(status, rows, processed, TimeSpan.FromSeconds(2),
            storingSince is { } s ? TimeSpan.FromSeconds(s) : null);

        Assert.Contains(expected, line, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bad_mode_or_option_is_named_and_exits_2_as_the_usage_says()
    {
        using var output = new StringWriter();
        using var progress = new StringWriter();

        Assert.Equal(2, CommandLine.RunImport(["x.csv", "--mode", "replace"], "tly_k", output, progress));
        Assert.Contains("Unknown --mode 'replace'", progress.ToString(), StringComparison.Ordinal);
        Assert.Contains("2 bad arguments", progress.ToString(), StringComparison.Ordinal);
        Assert.Equal(2, CommandLine.RunImport(["x.csv", "--fast"], "tly_k", output, progress));
        Assert.Contains("Unknown option '--fast'", progress.ToString(), StringComparison.Ordinal);
        Assert.Contains("3 the server refused it", progress.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_relative_file_is_read_from_the_folder_the_command_was_run_from()
    {
        var caller = Path.Combine(Path.GetTempPath(), "tally-cli-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(caller);
        try
        {
            using var output = new StringWriter();
            using var progress = new StringWriter();
            // Not there: the message names the caller's folder, not the program's.
            Assert.Equal(2, CommandLine.RunImport(["2025-q1.csv", "--key", "tly_k"], null, output, progress, caller));
            Assert.Contains($"No file at {Path.Combine(caller, "2025-q1.csv")}", progress.ToString(), StringComparison.Ordinal);

            // There: it is found and uploaded (to a port nothing listens on, so: exit 3, the server could not be reached).
            File.WriteAllText(Path.Combine(caller, "2025-q1.csv"), "指标,日期,数量,填报单位\n");
            var free = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
            free.Start();
            var port = ((System.Net.IPEndPoint)free.LocalEndpoint).Port;
            free.Stop();
            Assert.Equal(3, CommandLine.RunImport(["2025-q1.csv", "--key", "tly_k", "--url", $"http://127.0.0.1:{port}"], null, output, progress, caller));
            Assert.Contains("Cannot reach", progress.ToString(), StringComparison.Ordinal);

            Assert.Equal(Path.Combine(caller, "rel.db"), CommandLine.Resolve("rel.db", caller));
            Assert.Equal("/backups/t.db", CommandLine.Resolve("/backups/t.db", caller));
        }
        finally
        {
            Directory.Delete(caller, recursive: true);
        }
    }

    private static (int ExitCode, string Output, string Progress) Run(string[] args, string? keyFromEnvironment, string? keyArgument = null)
    {
        using var output = new StringWriter();
        using var progress = new StringWriter();
        var all = keyArgument is null ? args : [.. args, "--key", keyArgument];
        var code = CommandLine.RunImport(all[1..], keyFromEnvironment, output, progress);
        return (code, output.ToString(), progress.ToString());
    }
}
