using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;

namespace Tally.Api.Ledger;

/// <summary>
/// The kept digest ("setsum256"): the sum modulo 2^256 of SHA-256(id TAB quantity LF), read as a big-endian unsigned
/// integer, over a set of events. A sum needs no order and can be taken apart: an event's void subtracts what its
/// recording added, so the digest of the events counted as of any instant can be kept in the as-of rollups (eight
/// 32-bit limbs per row, summed without carries) and never needs the events themselves.
/// </summary>
public sealed class SetDigest
{
    public const string Prefix = "setsum256:";
    public const int Limbs = 8;

    private readonly long[] _limbs = new long[Limbs];

    /// <summary>The limb sums so far (limb 0 the least significant 32 bits), for adding to stored ones.</summary>
    public ReadOnlySpan<long> Sums => _limbs;

    public void Add(string id, long quantity, int sign = 1)
    {
        Span<long> limbs = stackalloc long[Limbs];
        Of(id, quantity, limbs);
        for (var i = 0; i < Limbs; i++)
            _limbs[i] += sign * limbs[i];
    }

    /// <summary>Adds stored limb sums (a row of the asof_unit_*_rollups, or a sum of them).</summary>
    public void AddSums(ReadOnlySpan<long> sums, int sign = 1)
    {
        for (var i = 0; i < Limbs; i++)
            _limbs[i] += sign * sums[i];
    }

    /// <summary>The 32-bit limbs of one event's SHA-256(id TAB quantity LF), limb 0 from the hash's last four bytes.</summary>
    public static void Of(string id, long quantity, Span<long> limbs)
    {
        var line = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{id}\t{quantity}\n"));
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(line, hash);
        for (var i = 0; i < Limbs; i++)
            limbs[i] = BinaryPrimitives.ReadUInt32BigEndian(hash[(28 - (4 * i))..]);
    }

    /// <summary>"setsum256:" and 64 lowercase hex digits: the limb sums carried and taken modulo 2^256, big-endian.</summary>
    public string Current()
    {
        var total = BigInteger.Zero;
        for (var i = Limbs - 1; i >= 0; i--)
            total = (total << 32) + _limbs[i];
        var modulus = BigInteger.One << 256;
        total = ((total % modulus) + modulus) % modulus;
        var bytes = total.ToByteArray(isUnsigned: true, isBigEndian: true);
        var padded = new byte[32];
        bytes.CopyTo(padded.AsSpan(32 - bytes.Length));
        return Prefix + Convert.ToHexStringLower(padded);
    }
}
