using System.Globalization;
using Tally.Bench;

// bench/totals.sh drives this: "load" writes a synthetic ledger straight into a database file, "copy-postgres" puts
// that ledger into a fresh PostgreSQL database, "measure" times the running API against a plain GROUP BY scan of the
// store it serves.
return args switch
{
    ["load", var path, var count, var seed] =>
        Loader.Run(path, int.Parse(count, CultureInfo.InvariantCulture), int.Parse(seed, CultureInfo.InvariantCulture)),
    ["copy-postgres", var path, var connectionString] => PostgresCopy.Run(path, connectionString, reuse: false),
    ["copy-postgres", var path, var connectionString, "--reuse"] => PostgresCopy.Run(path, connectionString, reuse: true),
    ["measure", var url, var key, var path, var label] => await Driver.RunAsync(new Uri(url), key, path, label),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: TotalsBench load <db> <events> <seed> | copy-postgres <db> <connectionString> [--reuse] | "
        + "measure <baseUrl> <adminKey> <db or connectionString> <label>");
    return 2;
}
