namespace Tally.Api.Features.Imports;

/// <summary>The lines of a stream, none longer than a limit, without ever holding more than that limit of it.</summary>
public static class BoundedLines
{
    public static IEnumerable<ReadOnlyMemory<byte>> Read(Stream stream, int maxBytes)
    {
        var buffer = new byte[Math.Min(64 * 1024, maxBytes + 2)];
        int start = 0, end = 0;
        while (true)
        {
            var newline = buffer.AsSpan(start, end - start).IndexOf((byte)'\n');
            if (newline >= 0)
            {
                var line = buffer.AsMemory(start, newline);
                start += newline + 1;
                if (line.Length > maxBytes)
                    throw TooLong(maxBytes);
                yield return line.Span.EndsWith("\r"u8) ? line[..^1] : line;
                continue;
            }
            if (end - start > maxBytes)
                throw TooLong(maxBytes);
            if (start > 0)
            {
                buffer.AsSpan(start, end - start).CopyTo(buffer);
                end -= start;
                start = 0;
            }
            if (end == buffer.Length)
                Array.Resize(ref buffer, (int)Math.Min(buffer.Length * 2L, maxBytes + 2L));
            var read = stream.Read(buffer, end, buffer.Length - end);
            if (read == 0)
            {
                if (end > start)
                    yield return buffer.AsMemory(start, end - start);
                yield break;
            }
            end += read;
        }
    }

    private static ImportLimitException TooLong(int maxBytes) =>
        ImportLimitException.Of(nameof(ImportLimitOptions.MaxLineBytes), maxBytes, $"A line is longer than {maxBytes} bytes");
}

/// <summary>A file read that stops (OperationCanceledException) once the import's time budget has ended.</summary>
public sealed class BudgetStream(Stream inner, CancellationToken budget, bool seekable = false) : Stream
{
    public override int Read(byte[] buffer, int offset, int count)
    {
        budget.ThrowIfCancellationRequested();
        return inner.Read(buffer, offset, count);
    }

    public override int Read(Span<byte> buffer)
    {
        budget.ThrowIfCancellationRequested();
        return inner.Read(buffer);
    }

    public override bool CanRead => true;
    public override bool CanSeek => seekable && inner.CanSeek;
    public override bool CanWrite => false;
    public override long Length => inner.Length;

    public override long Position
    {
        get => inner.Position;
        set => inner.Position = value;
    }

    public override long Seek(long offset, SeekOrigin origin) => inner.Seek(offset, origin);

    public override void Flush()
    {
    }

    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            inner.Dispose();
        base.Dispose(disposing);
    }
}
