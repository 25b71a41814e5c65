using System.Net.Http.Json;
using Microsoft.Playwright;
using Tally.Api.Tests.Infrastructure;
using Tally.Api.Tests.OpenApi;

namespace Tally.Api.Tests.Dashboard;

/// <summary>
/// The dashboard in a real browser (Debian's Chromium driven by Playwright, no browser download) over a real socket,
/// with the sample 2024 data loaded: what the page shows must be what the API says.
/// Without /usr/bin/chromium these tests skip, unless TALLY_REQUIRE_BROWSER=1 (CI sets it and installs Chromium).
/// </summary>
public sealed class DashboardBrowserTests(DashboardFixture fixture) : IClassFixture<DashboardFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private readonly TallyApp? _app = fixture.App;
    private readonly IBrowser? _browser = fixture.Browser;
    private readonly List<string> _consoleErrors = [];

    private static string ScreenshotFolder => DashboardFixture.ScreenshotFolder;

    private async Task<IPage> OpenSignedInAsync(string key, int width = 1366, int height = 900)
    {
        var context = await _browser!.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = width, Height = height }, Locale = "zh-CN",
        });
        var page = await context.NewPageAsync();
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
                _consoleErrors.Add(message.Text);
        };
        page.PageError += (_, error) => _consoleErrors.Add(error);
        await page.GotoAsync(_app!.BaseAddress.ToString());
        await page.FillAsync("#key-input", key);
        await page.PressAsync("#key-input", "Enter");
        await page.WaitForSelectorAsync(".card");
        // A locator wait, not WaitForFunction: the page's CSP (rightly) forbids the eval that polling a string needs.
        await page.Locator("#report-digest").Filter(new LocatorFilterOptions { HasTextRegex = new System.Text.RegularExpressions.Regex("^sha256:") })
            .WaitForAsync();
        return page;
    }

    private void SkipWithoutBrowser()
    {
        if (_browser is null)
            Assert.Skip($"{DashboardFixture.Chromium} is not installed (apt-get install chromium fonts-noto-cjk); CI runs these tests.");
    }

    [Fact]
    public async Task The_cards_show_the_report_figures_as_the_report_writes_them()
    {
        SkipWithoutBrowser();
        var page = await OpenSignedInAsync(TallyApp.AdminKey);
        Assert.Equal("2024", await page.InputValueAsync("#year-select"));

        using var admin = _app!.Admin();
        var report = await (await admin.GetAsync("/api/v1/reports/annual/2024", Ct)).ReadJsonAsync();
        var figures = report["figures"]!.AsArray();
        Assert.Equal(figures.Count, await page.Locator(".card").CountAsync());
        foreach (var figure in figures)
        {
            var metric = figure!["metric"]!.GetValue<string>();
            var card = page.Locator($".card[data-metric='{metric}']");
            var shown = await card.Locator(".figure").InnerTextAsync();
            Assert.Equal(figure["display"]!.GetValue<string>() + figure["unit"]!.GetValue<string>(), shown.Replace("\n", "", StringComparison.Ordinal));
            Assert.Contains(figure["value"]!.GetValue<long>().ToString("N0", System.Globalization.CultureInfo.GetCultureInfo("zh-CN")),
                await card.GetAttributeAsync("title") ?? "", StringComparison.Ordinal);
        }
        Assert.Contains("5.2万", await page.Locator(".card[data-metric='reports.political'] .figure").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Contains("40余", await page.Locator(".card[data-metric='campaign.actions'] .figure").InnerTextAsync(), StringComparison.Ordinal);

        var reportText = await page.Locator("#report-text").InnerTextAsync();
        Assert.Contains("累计清理涉黄涉赌网站105家", reportText, StringComparison.Ordinal);
        Assert.Contains("举报涉津有害信息及敏感线索8.6万条", reportText, StringComparison.Ordinal);
        Assert.Equal(report["digest"]!.GetValue<string>(), await page.Locator("#report-digest").InnerTextAsync());

        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ScreenshotFolder, "overview.png"), FullPage = true });
        Assert.Empty(_consoleErrors);
    }

    [Fact]
    public async Task Chinese_renders_as_glyphs_not_boxes()
    {
        SkipWithoutBrowser();
        var page = await OpenSignedInAsync(TallyApp.AdminKey);
        // Two different characters drawn in the page's font: with no CJK font both come out as the same missing-glyph box.
        var distinct = await page.EvaluateAsync<bool>("""
            () => {
              const font = getComputedStyle(document.querySelector('.card .name')).fontFamily;
              const draw = (ch) => {
                const canvas = document.createElement('canvas');
                canvas.width = 64; canvas.height = 64;
                const ctx = canvas.getContext('2d');
                ctx.font = `48px ${font}`;
                ctx.fillText(ch, 4, 52);
                return Array.from(ctx.getImageData(0, 0, 64, 64).data).join(',');
              };
              const a = draw('网'), b = draw('信'), blank = draw(' ');
              return a !== b && a !== blank && b !== blank;
            }
            """);
        Assert.True(distinct, "CJK characters render as identical boxes: no CJK font (install fonts-noto-cjk).");
        Assert.Empty(_consoleErrors);
    }

    [Fact]
    public async Task A_card_drills_down_to_the_events_behind_it()
    {
        SkipWithoutBrowser();
        var page = await OpenSignedInAsync(TallyApp.AdminKey);
        await page.Locator(".card[data-metric='websites.cleaned']").ClickAsync();
        await page.WaitForSelectorAsync("#drill[open] #drill-table tbody tr");

        using var reader = _app!.Admin();
        var listed = await (await reader.GetAsync(
            "/api/v1/events?metric=websites.cleaned&orgUnit=hedong&from=2024-01-01&to=2024-12-31&limit=1000", Ct)).ReadJsonAsync();
        var rows = await page.Locator("#drill-table tbody tr").CountAsync();
        Assert.Equal(listed["items"]!.AsArray().Count, rows);
        var quantities = await page.Locator("#drill-table tbody td.num").AllInnerTextsAsync();
        Assert.Equal(105, quantities.Sum(q => int.Parse(q.Replace(",", "", StringComparison.Ordinal), System.Globalization.CultureInfo.InvariantCulture)));
        // The total row adds up to the figure on the card it was opened from.
        var card = await page.Locator(".card[data-metric='websites.cleaned'] .figure").GetAttributeAsync("data-value");
        Assert.Equal(card, await page.Locator("#drill-total").GetAttributeAsync("data-value"));
        Assert.Equal("105", (await page.Locator("#drill-total").InnerTextAsync()).Trim());
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ScreenshotFolder, "drill-down.png") });

        // Keyboard alone: Escape closes the dialog, focus returns to the page.
        await page.Keyboard.PressAsync("Escape");
        Assert.False(await page.Locator("#drill").EvaluateAsync<bool>("d => d.open"));
        Assert.Empty(_consoleErrors);
    }

    [Theory]
    [InlineData("dim-chart", "community", "&dim.venue=community")]
    [InlineData("org-chart", "hedong", "&includeDescendants=false")]
    public async Task A_chart_drill_down_table_and_its_export_hold_exactly_the_events_the_server_filters(string chart, string key,
        string filter)
    {
        SkipWithoutBrowser();
        using var admin = _app!.Admin();
        // An event of the same venue in a unit below hedong: in the venue's drill-down, not in hedong's own.
        var child = await _app.OrgUnitAsync("hedong");
        var recorded = await admin.PostAsJsonAsync("/api/v1/events", new
        {
            metric = "outreach.sessions", occurredOn = "2024-06-02", quantity = 2, orgUnit = child, dimensions = new { venue = "community" },
        }, Ct);
        Assert.True(recorded.IsSuccessStatusCode, $"{(int)recorded.StatusCode}: {await recorded.Content.ReadAsStringAsync(Ct)}");
        var page = await OpenSignedInAsync(TallyApp.AdminKey);
        await page.SelectOptionAsync("#trend-metric", "outreach.sessions");
        await page.Locator("#dim-chart canvas").WaitForAsync();
        await page.EvaluateAsync("([id, key]) => { echarts.getInstanceByDom(document.getElementById(id)).trigger('click', { data: { key } }); }",
            new[] { chart, key });
        await page.Locator("#drill-status").Filter(new LocatorFilterOptions { HasTextRegex = new System.Text.RegularExpressions.Regex("^已显示") })
            .WaitForAsync();

        var listed = await (await admin.GetAsync(
            $"/api/v1/events?metric=outreach.sessions&orgUnit=hedong&from=2024-01-01&to=2024-12-31{filter}&limit=1000", Ct)).ReadJsonAsync();
        var expected = listed["items"]!.AsArray().Select(i => i!["id"]!.GetValue<string>()).ToList();
        var unfiltered = await (await admin.GetAsync(
            "/api/v1/events?metric=outreach.sessions&orgUnit=hedong&from=2024-01-01&to=2024-12-31&limit=1000", Ct)).ReadJsonAsync();
        Assert.InRange(expected.Count, 1, unfiltered["items"]!.AsArray().Count - 1);
        Assert.Equal(expected.Count, await page.Locator("#drill-table tbody tr").CountAsync());
        var quantities = await page.Locator("#drill-table tbody td.num").AllInnerTextsAsync();
        Assert.Equal(listed["items"]!.AsArray().Sum(i => i!["quantity"]!.GetValue<long>()),
            quantities.Sum(q => long.Parse(q.Replace(",", "", StringComparison.Ordinal), System.Globalization.CultureInfo.InvariantCulture)));

        var download = await page.RunAndWaitForDownloadAsync(() => page.ClickAsync("[data-export='ndjson']"));
        var exported = (await File.ReadAllLinesAsync(await download.PathAsync(), Ct)).Where(l => l.Length > 0)
            .Select(l => System.Text.Json.Nodes.JsonNode.Parse(l)!["id"]!.GetValue<string>()).ToList();
        Assert.Equal(expected, exported);
        Assert.Empty(_consoleErrors);
    }

    [Fact]
    public async Task The_report_text_is_the_markdown_the_server_writes_for_the_report_shown()
    {
        SkipWithoutBrowser();
        var page = await OpenSignedInAsync(TallyApp.AdminKey);
        var digest = await page.Locator("#report-digest").InnerTextAsync();
        var asOf = await page.Locator("#report-asof").GetAttributeAsync("datetime");
        var shown = await page.Locator("#report-text").GetAttributeAsync("data-markdown");
        var orgUnit = await page.InputValueAsync("#org-select");

        using var admin = _app!.Admin();
        var markdown = await admin.GetStringAsync(
            $"/api/v1/reports/annual/2024?orgUnit={orgUnit}&format=markdown&asOf={Uri.EscapeDataString(asOf!)}", Ct);
        Assert.Equal(markdown, shown);
        Assert.Contains(digest, markdown, StringComparison.Ordinal);
        Assert.Empty(_consoleErrors);
    }

    [Fact]
    public async Task Figures_refresh_after_a_write_without_a_reload()
    {
        SkipWithoutBrowser();
        var page = await OpenSignedInAsync(TallyApp.AdminKey);
        var before = await page.Locator(".card[data-metric='notices.issued'] .figure").GetAttributeAsync("data-value");
        using var admin = _app!.Admin();
        var recorded = await admin.PostAsJsonAsync("/api/v1/events",
            new { metric = "notices.issued", occurredOn = "2024-12-30", quantity = 1, orgUnit = "hedong", externalId = "refresh-test" }, Ct);
        Assert.True(recorded.IsSuccessStatusCode, $"{(int)recorded.StatusCode}: {await recorded.Content.ReadAsStringAsync(Ct)}");
        var expected = (long.Parse(before!, System.Globalization.CultureInfo.InvariantCulture) + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
        await page.WaitForSelectorAsync($".card[data-metric='notices.issued'] .figure[data-value='{expected}']",
            new PageWaitForSelectorOptions { Timeout = 15_000 });
        Assert.Empty(_consoleErrors);
    }

    [Fact]
    public async Task A_key_bound_to_an_org_unit_sees_only_its_subtree()
    {
        SkipWithoutBrowser();
        using var admin = _app!.Admin();
        var unit = await _app.OrgUnitAsync("hedong");
        var key = await _app.KeyAsync(["totals:read", "events:read"], orgUnit: unit);
        var recorded = await admin.PostAsJsonAsync("/api/v1/events",
            new { metric = "accounts.interviewed", occurredOn = "2024-06-01", quantity = 3, orgUnit = unit }, Ct);
        Assert.True(recorded.IsSuccessStatusCode, $"{(int)recorded.StatusCode}: {await recorded.Content.ReadAsStringAsync(Ct)}");

        var page = await OpenSignedInAsync(key, width: 820, height: 1100);
        var options = await page.Locator("#org-select option").AllInnerTextsAsync();
        Assert.Single(options);
        Assert.Contains(unit, options[0], StringComparison.Ordinal);
        Assert.Equal("3个", (await page.Locator(".card[data-metric='accounts.interviewed'] .figure").InnerTextAsync()).Replace("\n", "", StringComparison.Ordinal));
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ScreenshotFolder, "bound-key-tablet.png"), FullPage = true });

        await page.ClickAsync("#signout");
        await page.WaitForSelectorAsync("#signin:not([hidden])");
        Assert.Null(await page.EvaluateAsync<string?>("sessionStorage.getItem('tally.key')"));
        Assert.Empty(_consoleErrors);
    }

    /// <summary>Waits until the page has drawn twice more: resize observers and layout have run by then.</summary>
    private static Task<System.Text.Json.JsonElement?> SettledAsync(IPage page) =>
        page.EvaluateAsync("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))");

    private static async Task AssertNoHorizontalOverflowAsync(IPage page, int width)
    {
        await SettledAsync(page);
        var (scroll, inner) = (await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth"),
            await page.EvaluateAsync<int>("() => window.innerWidth"));
        var past = scroll <= inner ? "" : await page.EvaluateAsync<string>("""
            () => [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > window.innerWidth)
              .slice(0, 8).map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`).join(', ')
            """);
        Assert.True(scroll <= inner, $"At {width} px the page is {scroll} px wide: it scrolls sideways ({past}).");
        var widest = await page.EvaluateAsync<double>(
            "() => Math.max(...[...document.querySelectorAll('.chart canvas, .card, .panel')].map((e) => e.getBoundingClientRect().right))");
        Assert.True(widest <= inner + 0.5, $"At {width} px a chart, card or panel reaches {widest} px, past {inner}.");
    }

    [Theory]
    [InlineData(390, 844)]
    [InlineData(800, 1000)]
    [InlineData(1366, 900)]
    public async Task The_page_fits_the_window_at_every_width_with_no_sideways_scrolling(int width, int height)
    {
        SkipWithoutBrowser();
        var page = await OpenSignedInAsync(TallyApp.AdminKey, width, height);
        foreach (var chart in new[] { "trend-chart", "org-chart", "campaign-chart", "dim-chart" })
            await page.Locator($"#{chart} canvas").WaitForAsync();
        await AssertNoHorizontalOverflowAsync(page, width);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ScreenshotFolder, $"dashboard-{width}.png"), FullPage = true });

        // A campaign panel with one bar is short: it is sized to its bars, not a fixed box.
        var bars = await page.EvaluateAsync<int>(
            "() => echarts.getInstanceByDom(document.getElementById('campaign-chart')).getOption().yAxis[0].data.length");
        var campaignHeight = await page.EvaluateAsync<double>("() => document.getElementById('campaign-chart').getBoundingClientRect().height");
        Assert.True(campaignHeight <= 16 * (4.5 + 2.6 * Math.Max(bars, 2)) + 1, $"{bars} bar(s) in a panel {campaignHeight} px tall");
        Assert.Empty(_consoleErrors);
    }

    [Fact]
    public async Task Narrowing_the_window_after_load_shrinks_the_charts_with_it()
    {
        SkipWithoutBrowser();
        var page = await OpenSignedInAsync(TallyApp.AdminKey, 1366, 900);
        await page.Locator("#campaign-chart canvas").WaitForAsync();
        var wide = await page.EvaluateAsync<double>("() => document.querySelector('#trend-chart canvas').getBoundingClientRect().width");
        foreach (var width in new[] { 800, 360 })
        {
            await page.SetViewportSizeAsync(width, 900);
            await AssertNoHorizontalOverflowAsync(page, width);
        }
        var narrow = await page.EvaluateAsync<double>("() => document.querySelector('#trend-chart canvas').getBoundingClientRect().width");
        Assert.True(narrow < wide / 2, $"the trend chart stayed {narrow} px wide (was {wide})");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ScreenshotFolder, "dashboard-narrowed-360.png"), FullPage = true });
        Assert.Empty(_consoleErrors);
    }

    [Fact]
    public async Task A_card_compares_with_last_year_only_when_last_year_has_data()
    {
        SkipWithoutBrowser();
        using var admin = _app!.Admin();
        // websites.deregistered gets a 2023 figure; the sample has nothing else before 2024.
        var recorded = await admin.PostAsJsonAsync("/api/v1/events", new
        {
            metric = "websites.deregistered", occurredOn = "2023-05-05", quantity = 4, orgUnit = "hedong", externalId = "compare-2023",
        }, Ct);
        Assert.True(recorded.IsSuccessStatusCode, $"{(int)recorded.StatusCode}: {await recorded.Content.ReadAsStringAsync(Ct)}");
        var page = await OpenSignedInAsync(TallyApp.AdminKey);

        var compared = page.Locator(".card[data-metric='websites.deregistered'] .delta");
        var value = long.Parse((await page.Locator(".card[data-metric='websites.deregistered'] .figure").GetAttributeAsync("data-value"))!,
            System.Globalization.CultureInfo.InvariantCulture);
        Assert.StartsWith("较上年 ", await compared.InnerTextAsync(), StringComparison.Ordinal);
        Assert.Contains($"{(value - 4) * 100.0 / 4:0.0}%", await compared.InnerTextAsync(), StringComparison.Ordinal);

        var fromNothing = page.Locator(".card[data-metric='reports.political'] .delta");
        Assert.Equal("上年无数据", await fromNothing.InnerTextAsync());
        Assert.Contains("none", await fromNothing.GetAttributeAsync("class") ?? "", StringComparison.Ordinal);
        var colour = await fromNothing.EvaluateAsync<string>("e => getComputedStyle(e).color");
        var green = await page.EvaluateAsync<string>("() => { const s = document.createElement('span'); s.className = 'delta up'; document.querySelector('.card').append(s); const c = getComputedStyle(s).color; s.remove(); return c; }");
        Assert.NotEqual(green, colour);
        Assert.DoesNotContain("100%", await page.Locator("#cards").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Empty(_consoleErrors);
    }

    [Fact]
    public async Task The_page_opens_on_the_unit_holding_the_data_with_one_local_as_of_line()
    {
        SkipWithoutBrowser();
        var page = await OpenSignedInAsync(TallyApp.AdminKey);
        // An unbound key: the smallest unit holding the year's data (hedong, not 天津市 above it).
        Assert.Equal("hedong", await page.InputValueAsync("#org-select"));
        var title = await page.Locator("#report-text h3").First.InnerTextAsync();
        Assert.StartsWith("河东区", title, StringComparison.Ordinal);
        Assert.DoesNotContain("天津市", title, StringComparison.Ordinal);

        // One as-of line, in the office's time as the server writes it.
        var text = await page.Locator("body").InnerTextAsync();
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(text, "数据截至"));
        var asOf = await page.Locator("#report-asof").GetAttributeAsync("datetime");
        var local = TimeZoneInfo.ConvertTime(DateTimeOffset.Parse(asOf!, System.Globalization.CultureInfo.InvariantCulture),
            TimeZoneInfo.FindSystemTimeZoneById("Asia/Shanghai"));
        Assert.Equal(local.ToString("yyyy年M月d日 HH:mm（北京时间）", System.Globalization.CultureInfo.InvariantCulture),
            await page.Locator("#report-asof").InnerTextAsync());
        Assert.Empty(_consoleErrors);
    }

    [Fact]
    public async Task A_viewer_key_bound_to_a_unit_opens_on_that_unit()
    {
        SkipWithoutBrowser();
        var key = await _app!.KeyAsync(["totals:read", "events:read"], orgUnit: "hedong");
        var page = await OpenSignedInAsync(key, 390, 844);
        Assert.Equal("hedong", await page.InputValueAsync("#org-select"));
        Assert.Equal("105家", (await page.Locator(".card[data-metric='websites.cleaned'] .figure").InnerTextAsync()).Replace("\n", "", StringComparison.Ordinal));
        Assert.Empty(_consoleErrors);
    }

    [Fact]
    public async Task A_wrong_key_is_refused_on_the_sign_in_form()
    {
        SkipWithoutBrowser();
        var context = await _browser!.NewContextAsync();
        var page = await context.NewPageAsync();
        await page.GotoAsync(_app!.BaseAddress.ToString());
        await page.FillAsync("#key-input", "tly_wrong");
        await page.PressAsync("#key-input", "Enter");
        await page.WaitForSelectorAsync("#signin-error:not([hidden])");
        Assert.Contains("无效", await page.InnerTextAsync("#signin-error"), StringComparison.Ordinal);
    }
}

/// <summary>One server with the sample 2024 data and one browser, shared by the dashboard tests.</summary>
public sealed class DashboardFixture : IAsyncLifetime
{
    public const string Chromium = "/usr/bin/chromium";
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private IPlaywright? _playwright;

    public TallyApp? App { get; private set; }
    public IBrowser? Browser { get; private set; }

    public static string ScreenshotFolder => Path.Combine(OpenApiDocumentTests.RepoRoot(), "artifacts", "screenshots");

    public async ValueTask InitializeAsync()
    {
        if (!File.Exists(Chromium))
        {
            Assert.False(Environment.GetEnvironmentVariable("TALLY_REQUIRE_BROWSER") == "1", $"{Chromium} is required but missing.");
            return;
        }
        App = TallyApp.StartKestrel(new Dictionary<string, string?>());
        using var admin = App.Admin();
        var batch = await File.ReadAllTextAsync(Path.Combine(OpenApiDocumentTests.RepoRoot(), "Api.Tests", "Data", "hedong-2024.json"), Ct);
        var loaded = await admin.PostJsonAsync("/api/v1/events/batch", batch);
        Assert.Equal(System.Net.HttpStatusCode.OK, loaded.StatusCode);

        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"],
        });
        Directory.CreateDirectory(ScreenshotFolder);
    }

    public async ValueTask DisposeAsync()
    {
        if (Browser is not null)
            await Browser.DisposeAsync();
        _playwright?.Dispose();
        if (App is not null)
            await App.DisposeAsync();
    }

}
