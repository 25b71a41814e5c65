using FastEndpoints;
using Tally.Api.Data;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api.Features.Operations;

[UnboundKeysOnly("a backup holds every org unit's data; only a key bound to none may take one.", Zh = "备份包含所有单位的数据，只有不绑定单位的密钥才能备份。")]
public sealed class BackupDatabase(Database database) : EndpointWithoutRequest
{
    public const string ContentType = "application/vnd.sqlite3";

    public override void Configure()
    {
        Post("/admin/backup");
        Policies(ApiScopes.Admin);
        Description(b => b.ClearDefaultProduces(200).Produces<Stream>(200, ContentType));
        Summary(s =>
        {
            s.Summary = "Download a consistent snapshot of the database";
            s.Description = "SQLite's online backup, taken while writes go on; restore by stopping Tally and putting the "
                + "file in place of the database (see README).";
        });
    }

    public override async Task HandleAsync(CancellationToken ct)
    {
        if (!database.TakesOnlineBackups)
            throw ProblemException.Conflict(Text.Say(
                "本服务的数据存放在 PostgreSQL 中，请用 PostgreSQL 自带的工具备份（pg_dump 或 pg_basebackup，见 README）。",
                "This server stores its data in PostgreSQL: back it up with PostgreSQL's own tools (pg_dump or pg_basebackup; see the README)."));
        var file = Path.Combine(Path.GetTempPath(), $"tally-backup-{Guid.NewGuid():N}.db");
        try
        {
            await Task.Run(() => Backup.To(database.ConnectionString, file), ct);
            var name = $"tally-{DateTime.UtcNow:yyyyMMdd-HHmmss}.db";
            HttpContext.Response.Headers.ContentDisposition = $"attachment; filename=\"{name}\"";
            await using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16,
                FileOptions.Asynchronous | FileOptions.SequentialScan | FileOptions.DeleteOnClose);
            await Send.StreamAsync(stream, name, stream.Length, ContentType, cancellation: ct);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
