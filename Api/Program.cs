using Tally.Api;
using Tally.Api.Cli;

if (CommandLine.TryRun(args) is { } exitCode)
    return exitCode;

var builder = WebApplication.CreateBuilder(args);
builder.Services.AddTally(builder.Configuration);

var app = builder.Build();
app.UseTally();
app.Run();
return 0;
