using Tally.Bench;

// bench/ledger.sh drives these modes; see bench/README.md.
return args.FirstOrDefault() switch
{
    "baseline" => await BaselineServer.RunAsync(Options.Parse(args[1..])),
    "raw-insert" => RawInsert.Run(Options.Parse(args[1..])),
    "batch" => await BatchClient.RunAsync(Options.Parse(args[1..])),
    "export" => await ExportClient.RunAsync(Options.Parse(args[1..])),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: Tally.Bench baseline|raw-insert|batch|export --name value ...");
    return 2;
}
