using Microsoft.Playwright;
using Tally.Api.Tests.Features.Reporting;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Dashboard;

/// <summary>The dashboard's reporting panel in Chromium: who is missing or late, who awaits approval, one click to approve or return.</summary>
/// <remarks>Its own Kestrel app, so it runs with the separate apps, never beside the dashboard tests' app.</remarks>
[Collection(nameof(SeparateApps))]
public sealed class ReportingPanelBrowserTests(DashboardFixture fixture) : IClassFixture<DashboardFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private readonly List<string> _consoleErrors = [];

    [Fact]
    public async Task The_panel_shows_a_periods_reporters_and_approves_and_returns_with_one_click()
    {
        if (fixture.Browser is null)
            Assert.Skip($"{DashboardFixture.Chromium} is not installed (apt-get install chromium fonts-noto-cjk); CI runs these tests.");
        var app = fixture.App!;
        var (approved, returned, missing) = (await app.OrgUnitAsync(), await app.OrgUnitAsync(), await app.OrgUnitAsync());
        var plan = await app.PlanAsync(["notices.issued"], [approved, returned, missing]);
        using var writer = await app.ClientWithAsync(["events:write"]);
        await writer.RecordAsync("notices.issued", "2025-02-01", 3, approved);
        await writer.RecordAsync("notices.issued", "2025-02-01", 2, returned);
        await writer.SubmittedAsync(plan, "2025-Q1", approved);
        await writer.SubmittedAsync(plan, "2025-Q1", returned);

        var context = await fixture.Browser.NewContextAsync(new BrowserNewContextOptions { Locale = "zh-CN" });
        var page = await context.NewPageAsync();
        page.Console += (_, message) => { if (message.Type == "error") _consoleErrors.Add(message.Text); };
        page.PageError += (_, error) => _consoleErrors.Add(error);
        await page.GotoAsync(app.BaseAddress.ToString());
        await page.FillAsync("#key-input", TallyApp.AdminKey);
        await page.PressAsync("#key-input", "Enter");
        await page.Locator("#reporting").WaitForAsync();
        await page.SelectOptionAsync("#reporting-plan", plan);
        await page.FillAsync("#reporting-period", "2025-Q1");
        await page.ClickAsync("#reporting-load");

        var row = (string unit) => page.Locator($"#reporting-table tr[data-org-unit='{unit}']");
        await row(approved).Locator(".reporting-state", new LocatorLocatorOptions { HasTextString = "待审核" }).WaitForAsync();
        Assert.Equal("未报送", await row(missing).Locator(".reporting-state").InnerTextAsync());
        Assert.Equal("逾期", await row(missing).Locator(".reporting-ontime").InnerTextAsync());
        Assert.Equal("0/1", await row(missing).Locator("td").Nth(2).InnerTextAsync());
        Assert.Contains("应报 3，已报 2（66.7%）", await page.Locator("#reporting-summary").InnerTextAsync(), StringComparison.Ordinal);

        await row(approved).Locator("[data-approve]").ClickAsync();
        await row(approved).Locator(".reporting-state", new LocatorLocatorOptions { HasTextString = "已通过" }).WaitForAsync();
        await row(returned).Locator("[data-reason-for]").FillAsync("数量有误，请核实");
        await row(returned).Locator("[data-return]").ClickAsync();
        await row(returned).Locator(".reporting-state", new LocatorLocatorOptions { HasTextString = "已退回" }).WaitForAsync();
        Assert.Contains("数量有误，请核实", await row(returned).InnerTextAsync(), StringComparison.Ordinal);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(DashboardFixture.ScreenshotFolder, "reporting.png"), FullPage = true });

        using var reader = app.Admin();
        var status = await reader.StatusAsync(plan, "2025-Q1");
        Assert.Equal("approved", status.Unit(approved)["state"]!.GetValue<string>());
        Assert.Equal("returned", status.Unit(returned)["state"]!.GetValue<string>());
        Assert.Equal("数量有误，请核实", status.Unit(returned)["returnReason"]!.GetValue<string>());
        Assert.Empty(_consoleErrors);
    }
}
