using Microsoft.Data.Sqlite;

namespace Tally.Api.Data;

/// <summary>
/// Consistent snapshots of the database with SQLite's online backup API. In WAL mode the copy reads one committed
/// state while the writer goes on committing beside it.
/// </summary>
public static class Backup
{
    public static void To(string sourceConnectionString, string destinationPath)
    {
        var destinationFolder = Path.GetDirectoryName(Path.GetFullPath(destinationPath));
        if (!string.IsNullOrEmpty(destinationFolder))
            Directory.CreateDirectory(destinationFolder);
        // Write beside the target and move it into place, so a failed backup never leaves a half file under the name.
        var partial = destinationPath + ".partial";
        File.Delete(partial);
        using (var source = new SqliteConnection(sourceConnectionString))
        using (var destination = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = partial, Pooling = false }.ToString()))
        {
            source.Open();
            destination.Open();
            source.BackupDatabase(destination);
            using var journal = destination.CreateCommand();
            // A single self-contained file: no -wal beside it to lose on copying.
            journal.CommandText = "PRAGMA journal_mode = DELETE;";
            journal.ExecuteNonQuery();
        }
        File.Move(partial, destinationPath, overwrite: true);
    }
}
