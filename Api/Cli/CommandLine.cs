using Tally.Api.Data;

namespace Tally.Api.Cli;

/// <summary>
/// Operator commands run as <c>dotnet run --project Api -- &lt;command&gt;</c> instead of the web server.
/// Returns null when the arguments name no command, so the server starts.
/// </summary>
public static class CommandLine
{
    public static int? TryRun(string[] args)
    {
        if (args.Length == 0 || args[0].StartsWith('-'))
            return null;
        return args[0] switch
        {
            "backup" => RunBackup(args[1..]),
            "import" => RunImport(args[1..], Environment.GetEnvironmentVariable("TALLY_KEY"), Console.Out, Console.Error),
            "help" or "--help" => Usage(0),
            _ => null,
        };
    }

    private static int RunBackup(string[] args)
    {
        if (args.Length != 1)
            return Usage(2);
        var configuration = new ConfigurationBuilder()
            .SetBasePath(AppContext.BaseDirectory)
            .AddJsonFile("appsettings.json", optional: true)
            .AddEnvironmentVariables()
            .Build();
        var database = new Database(configuration);
        if (database.FilePath is null || !File.Exists(database.FilePath))
        {
            Console.Error.WriteLine($"No database at {database.FilePath ?? database.ConnectionString}.");
            return 1;
        }
        Backup.To(database.ConnectionString, args[0]);
        Console.WriteLine($"Backed up {database.FilePath} to {Path.GetFullPath(args[0])}.");
        return 0;
    }

    /// <summary><c>import FILE [--dry-run] [--mode create|upsert] [--name N] [--sheet S] [--url URL] [--key KEY]</c>.</summary>
    public static int RunImport(string[] args, string? keyFromEnvironment, TextWriter output, TextWriter progress)
    {
        string? file = null, name = null, sheet = null, key = keyFromEnvironment, mode = "create";
        var url = "http://127.0.0.1:5080";
        var dryRun = false;
        for (var i = 0; i < args.Length; i++)
        {
            string? Next() => i + 1 < args.Length ? args[++i] : null;
            switch (args[i])
            {
                case "--dry-run": dryRun = true; break;
                case "--mode": mode = Next() ?? ""; break;
                case "--name": name = Next(); break;
                case "--sheet": sheet = Next(); break;
                case "--url": url = Next() ?? ""; break;
                case "--key": key = Next(); break;
                default:
                    if (args[i].StartsWith('-') || file is not null)
                        return Usage(2);
                    file = args[i];
                    break;
            }
        }
        if (file is null || mode is not ("create" or "upsert") || !Uri.TryCreate(url, UriKind.Absolute, out var server))
            return Usage(2);
        if (string.IsNullOrEmpty(key))
        {
            progress.WriteLine("No API key: pass --key KEY or set TALLY_KEY.");
            return 2;
        }
        if (!File.Exists(file))
        {
            progress.WriteLine($"No file at {file}.");
            return 2;
        }
        var upload = new ImportUpload(new ImportUploadOptions(file, dryRun, mode, name, sheet, server, key), output, progress);
        return upload.RunAsync(CancellationToken.None).GetAwaiter().GetResult();
    }

    private static int Usage(int code)
    {
        var output = code == 0 ? Console.Out : Console.Error;
        output.WriteLine("""
            Usage:
              dotnet run --project Api                      run the server
              dotnet run --project Api -- backup OUT.db     snapshot the database (safe while the server runs)
              dotnet run --project Api -- import FILE [--dry-run] [--mode create|upsert] [--name N] [--sheet S]
                                         [--url http://127.0.0.1:5080] [--key KEY]
                                                            upload a .csv, .ndjson or .xlsx file to a running server
                                                            (key also from TALLY_KEY); exit 0 succeeded, 1 failed
            """);
        return code;
    }
}
