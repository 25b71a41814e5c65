using System.Security.Cryptography;

namespace Tally.Api.Ledger;

/// <summary>
/// Monotonic ULIDs with a type prefix (evt_, key_, ...). Only LedgerWriter's thread calls <see cref="Next"/>,
/// so ids sort in commit order and a cursor over ids never skips a row committed later.
/// </summary>
public sealed class IdGenerator(TimeProvider clock)
{
    private const string Alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    private long _lastMs = -1;
    private readonly byte[] _random = new byte[10];

    public string Next(string prefix)
    {
        var ms = clock.GetUtcNow().ToUnixTimeMilliseconds();
        if (ms > _lastMs)
        {
            _lastMs = ms;
            RandomNumberGenerator.Fill(_random);
            _random[0] &= 0x7F; // headroom so increments within one millisecond never overflow
        }
        else
        {
            Increment(_random);
        }
        return prefix + Encode(_lastMs, _random);
    }

    /// <summary>Continues after an id already stored, so a clock that stepped back cannot reorder ids.</summary>
    public void Observe(string? id)
    {
        if (id is null || id.Length < 26)
            return;
        UInt128 value = 0;
        foreach (var c in id[^26..])
        {
            var digit = Alphabet.IndexOf(c, StringComparison.Ordinal);
            if (digit < 0)
                return;
            value = (value << 5) | (uint)digit;
        }
        var ms = (long)(value >> 80);
        if (ms < _lastMs)
            return;
        _lastMs = ms;
        for (var i = _random.Length - 1; i >= 0; i--)
        {
            _random[i] = (byte)(value & 0xFF);
            value >>= 8;
        }
    }

    private static void Increment(byte[] bytes)
    {
        for (var i = bytes.Length - 1; i >= 0; i--)
        {
            if (++bytes[i] != 0)
                return;
        }
    }

    private static string Encode(long ms, byte[] random)
    {
        Span<char> chars = stackalloc char[26];
        for (var i = 9; i >= 0; i--)
        {
            chars[i] = Alphabet[(int)(ms & 31)];
            ms >>= 5;
        }
        // 80 random bits as 16 base-32 characters.
        UInt128 value = 0;
        foreach (var b in random)
            value = (value << 8) | b;
        for (var i = 25; i >= 10; i--)
        {
            chars[i] = Alphabet[(int)(value & 31)];
            value >>= 5;
        }
        return new string(chars);
    }
}
