using Tally.Api;

var builder = WebApplication.CreateBuilder(args);
builder.Services.AddTally(builder.Configuration);

var app = builder.Build();
app.UseTally();
app.Run();
