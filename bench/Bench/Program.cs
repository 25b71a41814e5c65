using Tally.Bench;

// bench/ledger.sh, bench/imports.sh, bench/lean.sh and bench/postgres.sh drive these modes; see bench/README.md.
return args.FirstOrDefault() switch
{
    "baseline" => await BaselineServer.RunAsync(Options.Parse(args[1..])),
    "raw-insert" => RawInsert.Run(Options.Parse(args[1..])),
    "batch" => await BatchClient.RunAsync(Options.Parse(args[1..])),
    "export" => await ExportClient.RunAsync(Options.Parse(args[1..])),
    "naive-server" => await NaiveServer.RunAsync(Options.Parse(args[1..])),
    "naive-insert" => NaiveInsert.Run(Options.Parse(args[1..])),
    "singles" => await SinglesClient.RunAsync(Options.Parse(args[1..])),
    "pg-naive-server" => await PostgresNaive.ServeAsync(Options.Parse(args[1..])),
    "pg-copy" => PostgresNaive.Copy(Options.Parse(args[1..])),
    "pg-scan" => PostgresNaive.Scan(Options.Parse(args[1..])),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: Tally.Bench baseline|raw-insert|naive-server|naive-insert|batch|export|singles|pg-naive-server|pg-copy|pg-scan --name value ...");
    return 2;
}
