namespace Tally.Api.Data;

/// <summary>Migrates the database before anything else starts (registered first among hosted services).</summary>
public sealed class DatabaseMigration(Database database, ILogger<DatabaseMigration> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        Migrator.Migrate(database, logger);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
