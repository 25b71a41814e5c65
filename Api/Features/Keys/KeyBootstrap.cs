using Dapper;
using Tally.Api.Data;
using Tally.Api.Ledger;
using Tally.Api.Security;

namespace Tally.Api.Features.Keys;

/// <summary>
/// Loads the stored keys at start, then makes sure an admin key exists: <c>Tally:BootstrapAdminKey</c> when
/// configured, else a generated one printed once to the console. Nothing is created while an active admin key exists.
/// </summary>
public sealed class KeyBootstrap(KeyStore keys, LedgerWriter writer, Database database, IConfiguration configuration,
    ILogger<KeyBootstrap> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        using (var connection = database.Open())
            keys.Load(connection);
        // Keys another process made or revoked (PostgreSQL): loaded again before this process serves its next request.
        writer.Others.KeysChanged += keys.Load;
        if (keys.AnyActiveAdmin())
            return;
        var configured = configuration["Tally:BootstrapAdminKey"];
        var secret = string.IsNullOrWhiteSpace(configured) ? KeyStore.NewSecret() : configured.Trim();
        if (keys.Find(secret) is not null)
        {
            logger.LogWarning("The configured bootstrap admin key was revoked earlier; it is not restored.");
            return;
        }
        var key = new NewKey("bootstrap-admin", "bootstrap", [ApiScopes.Admin], null, secret);
        var created = await writer.SubmitAsync(new BootstrapAdminKeyCommand(key, keys), cancellationToken);
        if (created is null)
        {
            // Another process on the same database (PostgreSQL) made the first admin key while this one started.
            logger.LogInformation("An admin key was made by another process meanwhile; none was created");
            return;
        }
        if (string.IsNullOrWhiteSpace(configured))
        {
            // Shown once, on the console only: it is the way into a fresh install.
            Console.WriteLine();
            Console.WriteLine($"Tally: no admin key existed, so one was created ({created.Id}). Keep it safe; it is not shown again:");
            Console.WriteLine($"  {secret}");
            Console.WriteLine();
        }
        else
        {
            logger.LogInformation("Bootstrap admin key {KeyId} created from configuration", created.Id);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>
/// The first admin key, decided in the writer's transaction: none is made when an active admin key or this secret is
/// stored already (processes started at once on one new PostgreSQL database make one key, not one each, and never
/// fail their start on the second insert of a configured key). Null when none was made.
/// </summary>
public sealed class BootstrapAdminKeyCommand(NewKey key, KeyStore keys) : LedgerCommand<ApiKeyRecord?>
{
    protected override ApiKeyRecord? Run(LedgerContext context)
    {
        var stored = context.Connection.ExecuteScalar<long>(
            """
            SELECT count(*) FROM api_keys
            WHERE key_hash = @hash OR (revoked_at IS NULL AND (' ' || scopes || ' ') LIKE @admin)
            """, new { hash = KeyStore.Hash(key.Secret), admin = $"% {ApiScopes.Admin} %" }, context.Transaction);
        return stored > 0 ? null : CreateApiKeyCommand.Create(context, key, Actor.System, keys, callerUnit: null);
    }
}
