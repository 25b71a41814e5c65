using Tally.Api.Problems;

namespace Tally.Api.Security;

/// <summary>Adds the contract's headers to every response: no sniffing, no framing.</summary>
public sealed class SecurityHeaders(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext context)
    {
        context.Response.OnStarting(() =>
        {
            ProblemMiddleware.AddStandardHeaders(context.Response);
            context.Response.Headers.Remove("Server");
            return Task.CompletedTask;
        });
        return next(context);
    }
}
