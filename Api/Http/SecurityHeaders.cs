using Tally.Api.Problems;

namespace Tally.Api.Http;

/// <summary>Adds the contract's headers to every response: no sniffing, no framing.</summary>
public sealed class SecurityHeaders(RequestDelegate next)
{
    /// <summary>The dashboard loads only its own scripts and talks only to its own origin.</summary>
    private const string DashboardPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        + "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

    public Task InvokeAsync(HttpContext context)
    {
        context.Response.OnStarting(() =>
        {
            ProblemMiddleware.AddStandardHeaders(context.Response);
            context.Response.Headers.Remove("Server");
            if (!context.Request.Path.StartsWithSegments("/swagger", StringComparison.OrdinalIgnoreCase)
                && context.Response.ContentType?.StartsWith("text/html", StringComparison.OrdinalIgnoreCase) == true)
                context.Response.Headers.ContentSecurityPolicy = DashboardPolicy;
            return Task.CompletedTask;
        });
        return next(context);
    }
}
