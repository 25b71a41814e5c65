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
            "backup" => RunBackup(args[1..], CallerDirectory()),
            "import" => RunImport(args[1..], Environment.GetEnvironmentVariable("TALLY_KEY"), Console.Out, Console.Error, CallerDirectory()),
            "help" or "--help" => Usage(0),
            _ => null,
        };
    }

    /// <summary>
    /// The folder the operator ran the command from. <c>dotnet run --project Api</c> starts the program in <c>Api/</c>,
    /// but the shell's <c>PWD</c> still names the caller's folder, which is where a relative FILE or OUT.db means.
    /// </summary>
    public static string CallerDirectory() =>
        Environment.GetEnvironmentVariable("PWD") is { Length: > 0 } pwd && Path.IsPathFullyQualified(pwd) && Directory.Exists(pwd)
            ? pwd
            : Environment.CurrentDirectory;

    /// <summary>A path as the operator meant it: relative to the folder the command was run from.</summary>
    public static string Resolve(string path, string callerDirectory) => Path.GetFullPath(path, callerDirectory);

    public static int RunBackup(string[] args, string callerDirectory)
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
        var target = Resolve(args[0], callerDirectory);
        Backup.To(database.ConnectionString, target);
        Console.WriteLine($"Backed up {database.FilePath} to {target}.");
        return 0;
    }

    /// <summary><c>import FILE [--dry-run] [--mode create|upsert] [--name N] [--sheet S] [--url URL] [--key KEY]</c>.</summary>
    public static int RunImport(string[] args, string? keyFromEnvironment, TextWriter output, TextWriter progress,
        string? callerDirectory = null)
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
                    {
                        progress.WriteLine(args[i].StartsWith('-') ? $"Unknown option '{args[i]}'." : $"One FILE only: '{args[i]}' is a second.");
                        return Usage(2, progress);
                    }
                    file = args[i];
                    break;
            }
        }
        if (mode is not ("create" or "upsert"))
        {
            progress.WriteLine($"Unknown --mode '{mode}': use create or upsert.");
            return Usage(2, progress);
        }
        if (!Uri.TryCreate(url, UriKind.Absolute, out var server))
        {
            progress.WriteLine($"--url '{url}' is not an absolute URL such as http://127.0.0.1:5080.");
            return Usage(2, progress);
        }
        if (file is null)
            return Usage(2, progress);
        file = Resolve(file, callerDirectory ?? Environment.CurrentDirectory);
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

    private static int Usage(int code, TextWriter? to = null)
    {
        var output = to ?? (code == 0 ? Console.Out : Console.Error);
        output.WriteLine("""
            Usage:
              dotnet run --project Api                      run the server
              dotnet run --project Api -- backup OUT.db     snapshot the database (safe while the server runs);
                                                            exit 0 done, 1 no database, 2 bad arguments
              dotnet run --project Api -- import FILE [--dry-run] [--mode create|upsert] [--name N] [--sheet S]
                                         [--url http://127.0.0.1:5080] [--key KEY]
                                                            upload a .csv, .ndjson or .xlsx file to a running server
                                                            (key also from TALLY_KEY); exit 0 succeeded, 1 the import
                                                            failed, 2 bad arguments or file, 3 the server refused it
                                                            (a wrong key, say) or could not be reached
            Relative paths are taken from the folder the command was run from.
            """);
        return code;
    }
}
