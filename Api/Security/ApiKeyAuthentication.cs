using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Tally.Api.Problems;

namespace Tally.Api.Security;

/// <summary>Authenticates <c>Authorization: Bearer &lt;key&gt;</c> and answers 401/403 in the contract's shape.</summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder,
    KeyStore keys, TimeProvider clock, Tally.Api.Ledger.OtherWriters others)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "Bearer";
    private const string FailureKey = "tally.auth.failure";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        // Several processes on one PostgreSQL database: first take in what the others committed (a key revoked, the
        // catalog changed), so this request is answered as any other process would answer it.
        await others.CatchUpAsync(Context.RequestAborted);
        return Authenticate();
    }

    private AuthenticateResult Authenticate()
    {
        var header = Request.Headers.Authorization.ToString();
        if (string.IsNullOrEmpty(header))
            return Failed(Text.Say("未提供 API 密钥：请发送 Authorization: Bearer <密钥>。", "No API key was presented: send Authorization: Bearer <key>."));
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            return Failed(Text.Say("Authorization 请求头须使用 Bearer 方案。", "The Authorization header must use the Bearer scheme."));
        var secret = header["Bearer ".Length..].Trim();
        if (secret.Length is 0 or > 200)
            return Failed(Text.Say("API 密钥无效。", "The API key is not valid."));
        var key = keys.Find(secret);
        if (key is null)
            return Failed(Text.Say("API 密钥无效。", "The API key is not valid."));
        if (key.RevokedAt is not null)
            return Failed(Text.Say("此 API 密钥已被吊销。", "The API key has been revoked."));

        keys.Touch(key.Id, clock.GetUtcNow());
        Context.SetCaller(key);
        var claims = new List<Claim> { new(ClaimTypes.NameIdentifier, key.Id), new(ClaimTypes.Name, key.Name) };
        claims.AddRange(key.Scopes.Select(s => new Claim("scope", s)));
        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName));
        return AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName));
    }

    private AuthenticateResult Failed(string reason)
    {
        Context.Items[FailureKey] = reason;
        return AuthenticateResult.Fail(reason);
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var reason = Context.Items[FailureKey] as string ?? Text.Say("需要有效的 API 密钥。", "A valid API key is required.");
        return ProblemMiddleware.WriteAsync(Context, Problem.Make(
            StatusCodes.Status401Unauthorized, ProblemTypes.Unauthorized, Text.Say("未认证", "Unauthorized"), reason));
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        var missing = MissingScope(Context);
        return ProblemMiddleware.WriteAsync(Context, Problem.Make(
            StatusCodes.Status403Forbidden, ProblemTypes.Forbidden, Text.Say("无权操作", "Forbidden"),
            missing is null
                ? Text.Say("此 API 密钥没有本接口所需的权限。", "This API key does not have the scope this route requires.")
                : Text.Say($"此 API 密钥无权访问本接口：需要 {missing} 权限（或 admin）。",
                    $"This API key may not use this route: it requires {missing} (or admin).")));
    }

    /// <summary>The scope the route's policies ask for that the caller's key lacks (scopes are the policies' names).</summary>
    public static string? MissingScope(HttpContext context)
    {
        var held = context.TryGetCaller()?.Scopes ?? [];
        return (context.GetEndpoint()?.Metadata.GetOrderedMetadata<Microsoft.AspNetCore.Authorization.IAuthorizeData>() ?? [])
            .Select(a => a.Policy)
            .FirstOrDefault(p => p is not null && ApiScopes.All.Contains(p) && !held.Contains(p) && !held.Contains(ApiScopes.Admin));
    }
}

public static class CallerExtensions
{
    private static readonly object CallerKey = new();

    public static void SetCaller(this HttpContext context, ApiKeyRecord key) => context.Items[CallerKey] = key;

    /// <summary>The authenticated key of this request; every /api/v1 route requires one.</summary>
    public static ApiKeyRecord Caller(this HttpContext context) =>
        context.TryGetCaller() ?? throw new InvalidOperationException("No authenticated caller.");

    /// <summary>The authenticated key, or null before authentication or for a request without a valid key.</summary>
    public static ApiKeyRecord? TryGetCaller(this HttpContext context) => context.Items[CallerKey] as ApiKeyRecord;
}

public static class SecurityServiceExtensions
{
    public static IServiceCollection AddTallySecurity(this IServiceCollection services)
    {
        services.AddSingleton<KeyStore>();
        services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        services.AddAuthorization(options =>
        {
            options.AddPolicy(ApiScopes.AnyKey, p => p.RequireAuthenticatedUser());
            foreach (var scope in ApiScopes.All)
            {
                options.AddPolicy(scope, p => p.RequireAuthenticatedUser().RequireAssertion(ctx =>
                    ctx.User.HasClaim("scope", scope) || ctx.User.HasClaim("scope", ApiScopes.Admin)));
            }
        });
        services.AddHostedService<KeyUsageFlusher>();
        return services;
    }
}
