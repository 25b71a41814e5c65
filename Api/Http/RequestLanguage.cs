using System.Globalization;
using Microsoft.Net.Http.Headers;

namespace Tally.Api.Http;

/// <summary>
/// Sets the request's culture from <c>Accept-Language</c> (q-values honoured): a <c>zh</c> tag gives <c>zh-CN</c>, an
/// <c>en</c> tag <c>en</c>; anything else, or no header, the server's <c>Tally:Language</c> (default <c>zh-CN</c>).
/// Every message written for the request reads the culture through <see cref="Problems.Text"/>; it flows with the
/// request's execution context, and the ledger writer and the import worker carry it to the work they do for it.
/// </summary>
public sealed class RequestLanguage(RequestDelegate next, IConfiguration configuration)
{
    public const string Setting = "Tally:Language";

    public static readonly CultureInfo Chinese = CultureInfo.GetCultureInfo("zh-CN");
    public static readonly CultureInfo English = CultureInfo.GetCultureInfo("en");

    private readonly CultureInfo _default = ServerDefault(configuration);

    public Task InvokeAsync(HttpContext context)
    {
        var culture = Choose(context.Request.Headers.AcceptLanguage.ToString(), _default);
        CultureInfo.CurrentCulture = culture;
        CultureInfo.CurrentUICulture = culture;
        return next(context);
    }

    /// <summary>The server's language: <c>Tally:Language</c>, a zh or en tag; anything else is a configuration error.</summary>
    public static CultureInfo ServerDefault(IConfiguration configuration)
    {
        var configured = configuration[Setting];
        if (string.IsNullOrWhiteSpace(configured))
            return Chinese;
        return Known(configured.Trim()) ?? throw new InvalidOperationException(
            $"{Setting} is '{configured}'; use zh-CN or en.");
    }

    /// <summary>The culture an <c>Accept-Language</c> value picks: its most preferred zh or en tag, else the default.</summary>
    public static CultureInfo Choose(string? acceptLanguage, CultureInfo fallback)
    {
        if (string.IsNullOrWhiteSpace(acceptLanguage)
            || !StringWithQualityHeaderValue.TryParseList([acceptLanguage], out var values))
            return fallback;
        // OrderByDescending is stable: equal q-values keep the client's order.
        foreach (var value in values.Where(v => (v.Quality ?? 1) > 0).OrderByDescending(v => v.Quality ?? 1))
        {
            if (Known(value.Value.Value) is { } culture)
                return culture;
        }
        return fallback;
    }

    private static CultureInfo? Known(string? tag)
    {
        if (string.IsNullOrEmpty(tag))
            return null;
        if (IsLanguage(tag, "zh"))
            return Chinese;
        return IsLanguage(tag, "en") ? English : null;
    }

    private static bool IsLanguage(string tag, string language) =>
        tag.StartsWith(language, StringComparison.OrdinalIgnoreCase)
        && (tag.Length == language.Length || tag[language.Length] is '-' or '_');
}
