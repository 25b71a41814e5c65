using System.Globalization;
using System.Text.Json.Nodes;
using System.Data.Common;
using Tally.Api.Ledger;

namespace Tally.Api.Ledger;

/// <summary>One unit of work for LedgerWriter: runs inside its own savepoint, completes only after commit.</summary>
public abstract class LedgerCommand
{
    /// <summary>How much this command weighs against the group-commit cap (a batch counts its items).</summary>
    public virtual int Weight => 1;

    /// <summary>
    /// A rehearsal (a dry run): the command runs in full, so it sees exactly what it would do, then its savepoint is
    /// rolled back and it completes with its result; nothing of it is stored.
    /// </summary>
    public virtual bool RollsBack => false;

    /// <summary>
    /// The language of the request (or import) that made the command: the writer runs the command in it, so every message
    /// the command raises on the writer's thread is in the reader's language.
    /// </summary>
    public CultureInfo Culture { get; } = CultureInfo.CurrentUICulture;

    /// <summary>Makes <see cref="Culture"/> the current one of the writer's flow, before it runs or fails this command.</summary>
    internal void EnterCulture()
    {
        CultureInfo.CurrentCulture = Culture;
        CultureInfo.CurrentUICulture = Culture;
    }

    internal abstract void Execute(LedgerContext context);

    internal abstract void Complete();

    internal abstract void Fail(Exception error);
}

/// <summary>A command that produces <typeparamref name="TResult"/> for the waiting request.</summary>
public abstract class LedgerCommand<TResult> : LedgerCommand
{
    private readonly TaskCompletionSource<TResult> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TResult? _result;

    public Task<TResult> Completion => _completion.Task;

    protected abstract TResult Run(LedgerContext context);

    internal sealed override void Execute(LedgerContext context)
    {
        context.BeginCommand();
        _result = Run(context);
        context.EndCommand();
    }

    internal sealed override void Complete() => _completion.TrySetResult(_result!);

    internal sealed override void Fail(Exception error) => _completion.TrySetException(error);
}

/// <summary>What a command may touch while it runs: the writer's connection and transaction, ids, the clock, the chain.</summary>
public sealed class LedgerContext
{
    private readonly AuditChain _chain;
    private readonly List<Action> _afterCommit = [];
    private CreatedEvents? _created;

    private readonly DbConnection _connection;

    /// <summary>PostgreSQL's held writes (<see cref="PendingWrites"/>); null on SQLite, where a statement is a call, not a round trip.</summary>
    private readonly PendingWrites? _pending;

    internal LedgerContext(DbConnection connection, DbTransaction transaction, IdGenerator ids, AuditChain chain,
        CatalogCache catalog, DateTimeOffset now, PreparedStatements statements, PendingWrites? pending = null)
    {
        _connection = connection;
        _pending = pending;
        Statements = statements;
        Transaction = transaction;
        Ids = ids;
        _chain = chain;
        Catalog = catalog.Current;
        Now = now;
    }

    /// <summary>The writer's connection, for a statement of its own: the writes held back so far are sent first.</summary>
    public DbConnection Connection
    {
        get
        {
            SendHeld();
            return _connection;
        }
    }

    /// <summary>True when the ledger is on PostgreSQL: for the storage layer's few statements that differ.</summary>
    internal bool OnPostgres => _connection is not Microsoft.Data.Sqlite.SqliteConnection;
    public DbTransaction Transaction { get; }
    public IdGenerator Ids { get; }

    /// <summary>Statements compiled once on the writer's connection, for the per-event hot path.</summary>
    private PreparedStatements Statements { get; }

    /// <summary>A prepared statement in this group's transaction; the writes held back so far are sent first.</summary>
    public DbCommand Prepared(string sql)
    {
        SendHeld();
        return Statements.Get(sql, Transaction);
    }

    /// <summary>
    /// A prepared write whose answer nobody reads: bind it, then <see cref="HeldWrite.Send"/>. On PostgreSQL it is held
    /// and goes with the next statement the writer sends (<see cref="PendingWrites"/>); on SQLite it runs at once.
    /// </summary>
    internal HeldWrite Write(string sql) => new(this, Statements.Get(sql, Transaction));

    internal void Send(DbCommand write)
    {
        if (_pending is null)
            write.ExecuteNonQuery();
        else
            _pending.Add(write, Transaction);
    }

    /// <summary>Sends the writes held back so far, with <paramref name="statement"/> (no parameters) after them when given.</summary>
    internal void SendHeld(string? statement = null)
    {
        if (_pending is { Count: > 0 })
            _pending.Send(Transaction, statement);
        else if (statement is not null)
            Statements.Get(statement, Transaction).ExecuteNonQuery();
    }

    /// <summary>The command is rolled back to its savepoint: the writes it held are never sent.</summary>
    internal void DropHeld() => _pending?.Drop();

    /// <summary>The catalog as it stood when the group began; catalog commands refresh it after commit.</summary>
    public CatalogSnapshot Catalog { get; }

    public DateTimeOffset Now { get; }
    public bool CatalogChanged { get; private set; }

    /// <summary>Event rows this group inserted so far (for the events-stored metric).</summary>
    internal int EventsInserted { get; set; }

    /// <summary>The group's as-of rollup changes, written just before it commits.</summary>
    internal AsOfChanges AsOf { get; } = new();

    /// <summary>Years (of occurredOn) in which this group voided or superseded events: counted events that stop counting.</summary>
    internal HashSet<int> VoidedYears { get; } = [];

    internal IReadOnlyList<Action> AfterCommit => _afterCommit;

    public void Audit(Actor actor, string action, string entity, JsonObject data) =>
        AuditCanonical(actor, action, entity, AuditChain.Canonical(data));

    /// <summary>
    /// Appends an audit entry whose data is already canonical JSON (see <see cref="AuditChain.Canonical"/>). Events this
    /// command created before it get their entry first (so they keep the seq they were given).
    /// </summary>
    public void AuditCanonical(Actor actor, string action, string entity, string canonicalData)
    {
        SealCreated();
        _chain.Append(Write(AuditChain.InsertSql), Now, actor, action, entity, canonicalData);
    }

    /// <summary>The seq of the audit entry that will record the events this command creates (their auditSeq).</summary>
    public long CreationSeq => _created?.Seq ?? _chain.HeadSeq + 1;

    /// <summary>A new event row, just inserted: its leaf joins the command's one <c>events.created</c> entry.</summary>
    internal void RecordCreated(EventRow row, Actor actor)
    {
        _created ??= new CreatedEvents(_chain.HeadSeq + 1, actor);
        _created.Add(row);
    }

    internal void BeginCommand() => _created = null;

    /// <summary>The command ran: the events it created get their audit entry.</summary>
    internal void EndCommand() => SealCreated();

    private void SealCreated()
    {
        var created = _created;
        if (created is null)
            return;
        _created = null;
        created.Seal(this, _chain);
    }

    public void MarkCatalogChanged() => CatalogChanged = true;

    /// <summary>Runs after the group commits (never if it rolls back): cache updates and the like.</summary>
    public void OnCommitted(Action action) => _afterCommit.Add(action);

    internal int AfterCommitCount => _afterCommit.Count;

    internal void DropAfterCommitFrom(int count) => _afterCommit.RemoveRange(count, _afterCommit.Count - count);
}

/// <summary>A write being bound (<see cref="LedgerContext.Write"/>): held on PostgreSQL once sent, run at once on SQLite.</summary>
internal readonly struct HeldWrite(LedgerContext context, DbCommand command)
{
    public HeldWrite Bind(string name, object? value)
    {
        command.Bind(name, value);
        return this;
    }

    public void Send() => context.Send(command);
}
