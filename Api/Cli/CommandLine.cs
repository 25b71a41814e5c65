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

    private static int Usage(int code)
    {
        var output = code == 0 ? Console.Out : Console.Error;
        output.WriteLine("""
            Usage:
              dotnet run --project Api                      run the server
              dotnet run --project Api -- backup OUT.db     snapshot the database (safe while the server runs)
            """);
        return code;
    }
}
