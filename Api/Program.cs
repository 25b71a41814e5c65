using Tally.Api.Cli;
using Tally.Api.Features.Audit;
using Tally.Api.Features.Imports;
using Tally.Api.Features.Keys;
using Tally.Api.Features.Reporting;
using Tally.Api.Features.Reports;
using Tally.Api.Http;
using Tally.Api.Ledger;
using Tally.Api.OpenApi;
using Tally.Api.Security;

if (CommandLine.TryRun(args) is { } exitCode)
    return exitCode;

var builder = WebApplication.CreateBuilder(args).UseTallyAddress();
builder.Services
    .AddLedger(builder.Configuration)
    .AddTallySecurity()
    .AddTallyHttp(builder.Configuration)
    .AddTallyOpenApi()
    .AddKeys()
    .AddImports(builder.Configuration)
    .AddReports()
    .AddReporting()
    .AddAudit();

var app = builder.Build();
app.UseTallyHttp();
app.UseTallyOpenApi();
return app.RunTally();
