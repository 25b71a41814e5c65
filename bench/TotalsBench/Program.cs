using System.Globalization;
using Tally.Bench;

// bench/totals.sh drives this: "load" writes a synthetic ledger straight into a database file, "measure" times
// the running API against a plain GROUP BY scan of the same file.
return args switch
{
    ["load", var path, var count, var seed] =>
        Loader.Run(path, int.Parse(count, CultureInfo.InvariantCulture), int.Parse(seed, CultureInfo.InvariantCulture)),
    ["measure", var url, var key, var path, var label] => await Driver.RunAsync(new Uri(url), key, path, label),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: TotalsBench load <db> <events> <seed> | measure <baseUrl> <adminKey> <db> <label>");
    return 2;
}
