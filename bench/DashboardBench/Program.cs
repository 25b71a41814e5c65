using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Playwright;

// Times the dashboard at / in Debian's Chromium, from navigation until the year's cards and the report digest are on
// screen (what a person waits for), against one running server:
//   dotnet DashboardBench.dll <base url> <admin key> <label> [reloads]
// Prints one Markdown table row: the first page right after the server started, a new session's first page on the
// running server, reloads (median and max), a reload after a write and one after a void.
if (args.Length < 3)
{
    Console.Error.WriteLine("usage: DashboardBench <base url> <admin key> <label> [reloads]");
    return 2;
}
var baseUrl = args[0].TrimEnd('/');
var key = args[1];
var label = args[2];
var reloads = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 15;

using var api = new HttpClient { BaseAddress = new Uri(baseUrl) };
api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);

using var playwright = await Playwright.CreateAsync();
await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
{
    ExecutablePath = "/usr/bin/chromium",
    Headless = true,
    Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"],
});
var errors = new List<string>();
async Task<IPage> NewSession()
{
    var context = await browser.NewContextAsync(new BrowserNewContextOptions
    {
        ViewportSize = new ViewportSize { Width = 1366, Height = 900 }, Locale = "zh-CN",
        // Only so this driver may read performance.now(): the page's own CSP forbids the eval Playwright needs.
        BypassCSP = true,
    });
    var opened = await context.NewPageAsync();
    opened.Console += (_, message) =>
    {
        if (message.Type == "error")
            errors.Add(message.Text);
    };
    return opened;
}
var page = await NewSession();

async Task<double> Shown(Func<Task> start, string? previousDigest = null)
{
    var digest = page.Locator("#report-digest").Filter(new LocatorFilterOptions { HasTextRegex = new Regex("^sha256:") });
    var clock = Stopwatch.StartNew();
    await start();
    await page.Locator(".card .figure").First.WaitForAsync(new LocatorWaitForOptions { Timeout = 60_000 });
    if (previousDigest is null)
        await digest.WaitForAsync(new LocatorWaitForOptions { Timeout = 60_000 });
    else
        await page.Locator("#report-digest").Filter(new LocatorFilterOptions { HasNotText = previousDigest })
            .Filter(new LocatorFilterOptions { HasTextRegex = new Regex("^sha256:") })
            .WaitForAsync(new LocatorWaitForOptions { Timeout = 60_000 });
    return clock.Elapsed.TotalMilliseconds;
}

// Cold: the first page this server serves, the key typed in as a person would.
async Task SignIn()
{
    await page.GotoAsync(baseUrl + "/");
    await page.FillAsync("#key-input", key);
    await page.PressAsync("#key-input", "Enter");
}
var cold = await Shown(SignIn);
var year = await page.InputValueAsync("#year-select");
var cards = await page.Locator(".card").CountAsync();

// Warm: reloads with the key kept for the session.
var warm = new List<double>();
for (var i = 0; i < reloads; i++)
    warm.Add(await Shown(() => page.ReloadAsync()));
warm.Sort();

// A new session on the running server: another person opens the page (empty browser cache) and types the key in.
// Timed in two parts: the page until it asks for the key, then the key until the figures and the digest are shown.
page = await NewSession();
var opening = Stopwatch.StartNew();
await page.GotoAsync(baseUrl + "/");
await page.Locator("#key-input").WaitForAsync();
var sessionPage = opening.Elapsed.TotalMilliseconds;
var sessionFigures = await Shown(async () =>
{
    await page.FillAsync("#key-input", key);
    await page.PressAsync("#key-input", "Enter");
});
if (Environment.GetEnvironmentVariable("TALLY_BENCH_TIMELINE") == "1")
{
    // Where a new session's time goes: the document, then each request as the page made it.
    Console.Error.WriteLine(await page.EvaluateAsync<string>("""
        () => [performance.getEntriesByType('navigation')[0], ...performance.getEntriesByType('resource')]
          .map(e => `${Math.round(e.startTime)}-${Math.round(e.responseEnd)} ${e.name.replace(location.origin, '')}`).join('\n')
        """));
}

// After a write: one event in the shown year, then a reload must show a new digest.
var before = await page.Locator("#report-digest").InnerTextAsync();
var created = await api.PostAsJsonAsync("/api/v1/events",
    new { metric = "notices.issued", occurredOn = $"{year}-06-01", quantity = 1, orgUnit = "hedong" });
created.EnsureSuccessStatusCode();
var id = (await created.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<string>();
var afterWrite = await Shown(() => page.ReloadAsync(), before);

// After a void: what was counted changes, so the year is read whole again.
before = await page.Locator("#report-digest").InnerTextAsync();
(await api.PostAsJsonAsync($"/api/v1/events/{id}/void", new { reason = "benchmark" })).EnsureSuccessStatusCode();
var afterVoid = await Shown(() => page.ReloadAsync(), before);

var events = (await api.GetFromJsonAsync<JsonObject>($"/api/v1/reports/annual/{year}"))!["figures"]!.AsArray()
    .Sum(f => f!["events"]!.GetValue<long>());
string Ms(double ms) => ms.ToString("N0", CultureInfo.InvariantCulture);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"| {label} | {year} ({events:N0} counted) | {cards} | {Ms(cold)} | {Ms(sessionPage)} + {Ms(sessionFigures)} | {Ms(warm[warm.Count / 2])} | {Ms(warm[^1])} | {Ms(afterWrite)} | {Ms(afterVoid)} | {errors.Count} |"));
return errors.Count == 0 ? 0 : 1;
