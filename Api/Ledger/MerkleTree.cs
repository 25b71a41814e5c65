using System.Security.Cryptography;

namespace Tally.Api.Ledger;

/// <summary>
/// RFC 6962 (Certificate Transparency) Merkle tree hashing, the one definition every audit root and proof is computed
/// with: leaf = SHA-256(0x00 ‖ data), node = SHA-256(0x01 ‖ left ‖ right), a list of n &gt; 1 items split at the largest
/// power of two smaller than n (RFC 6962 section 2.1), and the audit path PATH(m, D[n]) of section 2.1.1.
/// </summary>
public static class MerkleTree
{
    public const int HashBytes = 32;

    /// <summary>MTH of the empty list: SHA-256 of nothing.</summary>
    public static byte[] EmptyRoot() => SHA256.HashData(ReadOnlySpan<byte>.Empty);

    public static byte[] LeafHash(ReadOnlySpan<byte> data)
    {
        var hash = new byte[HashBytes];
        LeafHash(data, hash);
        return hash;
    }

    /// <summary>SHA-256(0x00 ‖ data) into <paramref name="destination"/>.</summary>
    public static void LeafHash(ReadOnlySpan<byte> data, Span<byte> destination)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData([0x00]);
        sha.AppendData(data);
        sha.GetHashAndReset(destination);
    }

    public static byte[] NodeHash(ReadOnlySpan<byte> left, ReadOnlySpan<byte> right)
    {
        Span<byte> input = stackalloc byte[1 + 2 * HashBytes];
        input[0] = 0x01;
        left.CopyTo(input[1..]);
        right.CopyTo(input[(1 + HashBytes)..]);
        return SHA256.HashData(input);
    }

    /// <summary>The largest power of two strictly smaller than <paramref name="n"/> (n &gt; 1).</summary>
    public static long SplitPoint(long n)
    {
        if (n < 2)
            throw new ArgumentOutOfRangeException(nameof(n), "A split needs at least two items.");
        var k = 1L;
        while (k << 1 < n)
            k <<= 1;
        return k;
    }

    /// <summary>MTH over leaf hashes already computed (the items are taken as the tree's leaves as they are).</summary>
    public static byte[] Root(IReadOnlyList<byte[]> leafHashes) =>
        leafHashes.Count == 0 ? EmptyRoot() : Root(leafHashes, 0, leafHashes.Count);

    private static byte[] Root(IReadOnlyList<byte[]> hashes, int start, int count)
    {
        if (count == 1)
            return hashes[start];
        var k = (int)SplitPoint(count);
        return NodeHash(Root(hashes, start, k), Root(hashes, start + k, count - k));
    }

    /// <summary>PATH(m, D[n]) over leaf hashes: the sibling hashes from the leaf up to the root, nearest first.</summary>
    public static List<byte[]> Path(int index, IReadOnlyList<byte[]> leafHashes)
    {
        if (index < 0 || index >= leafHashes.Count)
            throw new ArgumentOutOfRangeException(nameof(index));
        var path = new List<byte[]>();
        AddPath(index, leafHashes, 0, leafHashes.Count, path);
        return path;
    }

    private static void AddPath(int m, IReadOnlyList<byte[]> hashes, int start, int count, List<byte[]> path)
    {
        if (count == 1)
            return;
        var k = (int)SplitPoint(count);
        if (m < k)
        {
            AddPath(m, hashes, start, k, path);
            path.Add(Root(hashes, start + k, count - k));
        }
        else
        {
            AddPath(m - k, hashes, start + k, count - k, path);
            path.Add(Root(hashes, start, k));
        }
    }

    /// <summary>
    /// The root an inclusion proof leads to (RFC 9162 section 2.1.3.2): the leaf at <paramref name="index"/> of a tree of
    /// <paramref name="size"/> leaves folded with <paramref name="path"/>; null when the path does not fit the size.
    /// </summary>
    public static byte[]? RootFromPath(byte[] leafHash, long index, long size, IReadOnlyList<byte[]> path)
    {
        if (index < 0 || index >= size)
            return null;
        long fn = index, sn = size - 1;
        var r = leafHash;
        foreach (var p in path)
        {
            if (sn == 0)
                return null;
            if ((fn & 1) == 1 || fn == sn)
            {
                r = NodeHash(p, r);
                if ((fn & 1) == 0)
                {
                    while ((fn & 1) == 0 && fn != 0)
                    {
                        fn >>= 1;
                        sn >>= 1;
                    }
                }
            }
            else
            {
                r = NodeHash(r, p);
            }
            fn >>= 1;
            sn >>= 1;
        }
        return sn == 0 ? r : null;
    }
}

/// <summary>
/// The tree hash of a list of leaves given one at a time, in O(log n) memory: a stack of the complete subtrees so far
/// (RFC 6962's tree is its complete subtrees of decreasing size, folded from the right). The leaves are grouped in
/// chunks of <see cref="ChunkLeaves"/>, aligned subtrees of the RFC tree (its splits fall on multiples of the chunk once
/// a list is larger than one), whose hashes are kept so that a proof never has to rehash more than one chunk.
/// </summary>
public sealed class MerkleAccumulator
{
    /// <summary>Leaves per stored chunk: a proof rehashes at most this many events.</summary>
    public const int ChunkLeaves = 1024;

    private readonly SubtreeStack _chunk = new();
    private readonly List<byte[]> _chunkHashes = [];

    public long Count { get; private set; }

    /// <summary>The hashes of the chunks completed so far (the last, partial one is added by <see cref="Root"/>).</summary>
    public IReadOnlyList<byte[]> ChunkHashes => _chunkHashes;

    public void AddLeaf(ReadOnlySpan<byte> leafHash)
    {
        _chunk.Push(leafHash.ToArray());
        Count++;
        if (Count % ChunkLeaves == 0)
            _chunkHashes.Add(_chunk.Fold());
    }

    /// <summary>The tree hash of every leaf added (completing the last chunk); null when none was.</summary>
    public byte[]? Root()
    {
        if (Count == 0)
            return null;
        if (Count % ChunkLeaves != 0 && !_chunk.IsEmpty)
            _chunkHashes.Add(_chunk.Fold());
        return MerkleTree.Root(_chunkHashes);
    }

    /// <summary>Complete subtrees of the leaves given, largest first; merged as soon as two have the same size.</summary>
    private sealed class SubtreeStack
    {
        private readonly List<(byte[] Hash, long Size)> _stack = [];

        public bool IsEmpty => _stack.Count == 0;

        public void Push(byte[] leafHash)
        {
            var (hash, size) = (leafHash, 1L);
            while (_stack.Count > 0 && _stack[^1].Size == size)
            {
                hash = MerkleTree.NodeHash(_stack[^1].Hash, hash);
                size *= 2;
                _stack.RemoveAt(_stack.Count - 1);
            }
            _stack.Add((hash, size));
        }

        /// <summary>The tree hash of everything pushed (the subtrees folded from the right); the stack is emptied.</summary>
        public byte[] Fold()
        {
            var hash = _stack[^1].Hash;
            for (var i = _stack.Count - 2; i >= 0; i--)
                hash = MerkleTree.NodeHash(_stack[i].Hash, hash);
            _stack.Clear();
            return hash;
        }
    }
}
