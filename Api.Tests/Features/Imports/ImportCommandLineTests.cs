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

    private static (int ExitCode, string Output, string Progress) Run(string[] args, string? keyFromEnvironment, string? keyArgument = null)
    {
        using var output = new StringWriter();
        using var progress = new StringWriter();
        var all = keyArgument is null ? args : [.. args, "--key", keyArgument];
        var code = CommandLine.RunImport(all[1..], keyFromEnvironment, output, progress);
        return (code, output.ToString(), progress.ToString());
    }
}
