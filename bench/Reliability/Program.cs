using System.Globalization;
using Tally.Reliability;

// Tally.Reliability crash DLL PORT ROUNDS OUT [SEED]   |   soak DLL PORT MINUTES RATE OUT   |   hostile DLL PORT SECONDS OUT
if (args.Length >= 4 && args[0] == "crash")
    return await Crash.RunAsync(args[1], Int(args[2]), Int(args[3]), args[4], args.Length > 5 ? Int(args[5]) : Environment.TickCount);
if (args.Length >= 6 && args[0] == "soak")
    return await Soak.RunAsync(args[1], Int(args[2]), TimeSpan.FromMinutes(double.Parse(args[3], CultureInfo.InvariantCulture)), Int(args[4]), args[5]);
if (args.Length >= 5 && args[0] == "hostile")
    return await Hostile.RunAsync(args[1], Int(args[2]), TimeSpan.FromSeconds(Int(args[3])), args[4]);
Console.Error.WriteLine("usage: crash DLL PORT ROUNDS OUT [SEED] | soak DLL PORT MINUTES RATE OUT | hostile DLL PORT SECONDS OUT");
return 2;

static int Int(string s) => int.Parse(s, CultureInfo.InvariantCulture);
