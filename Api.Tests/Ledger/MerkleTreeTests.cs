using System.Text;
using Tally.Api.Ledger;

namespace Tally.Api.Tests.Ledger;

/// <summary>
/// The one Merkle hashing against the Certificate Transparency reference vectors for RFC 6962 (the leaves "", 00, 10,
/// 2021, ... with their tree heads and inclusion paths, as published with certificate-transparency and
/// transparency-dev/merkle), and the streaming accumulator against the recursive definition.
/// </summary>
public sealed class MerkleTreeTests
{
    private static readonly string[] ReferenceLeaves =
        ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"];

    /// <summary>MTH of the first n reference leaves, n = 0..8.</summary>
    private static readonly string[] ReferenceRoots =
    [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    private static List<byte[]> LeafHashes(int n) =>
        ReferenceLeaves.Take(n).Select(h => MerkleTree.LeafHash(Convert.FromHexString(h))).ToList();

    [Fact]
    public void Tree_heads_match_the_reference_for_every_size()
    {
        for (var n = 0; n <= ReferenceLeaves.Length; n++)
            Assert.Equal(ReferenceRoots[n], Convert.ToHexStringLower(MerkleTree.Root(LeafHashes(n))));
    }

    [Fact]
    public void Leaf_and_node_hashes_carry_their_prefixes()
    {
        Assert.Equal(ReferenceRoots[1], Convert.ToHexStringLower(MerkleTree.LeafHash([])));
        var hashes = LeafHashes(2);
        Assert.Equal(ReferenceRoots[2], Convert.ToHexStringLower(MerkleTree.NodeHash(hashes[0], hashes[1])));
    }

    public static TheoryData<int, int, string[]> ReferencePaths() => new()
    {
        { 0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                 "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                 "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"] },
        { 5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                 "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                 "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"] },
        { 0, 1, [] },
    };

    [Theory]
    [MemberData(nameof(ReferencePaths))]
    public void Audit_paths_match_the_reference_and_fold_to_the_root(int index, int size, string[] expected)
    {
        var hashes = LeafHashes(size);
        var path = MerkleTree.Path(index, hashes);
        Assert.Equal(expected, path.Select(Convert.ToHexStringLower));
        Assert.Equal(ReferenceRoots[size], Convert.ToHexStringLower(MerkleTree.RootFromPath(hashes[index], index, size, path)!));
    }

    [Fact]
    public void Every_path_of_every_size_folds_to_its_root_and_a_wrong_index_leaf_or_sibling_does_not()
    {
        var leaves = Enumerable.Range(0, 40).Select(i => MerkleTree.LeafHash(Encoding.UTF8.GetBytes($"leaf {i}"))).ToList();
        for (var n = 1; n <= leaves.Count; n++)
        {
            var tree = leaves.Take(n).ToList();
            var root = MerkleTree.Root(tree);
            for (var i = 0; i < n; i++)
            {
                var path = MerkleTree.Path(i, tree);
                Assert.Equal(root, MerkleTree.RootFromPath(tree[i], i, n, path));
                if (n > 1)
                {
                    Assert.NotEqual(root, MerkleTree.RootFromPath(tree[i], (i + 1) % n, n, path));
                    Assert.NotEqual(root, MerkleTree.RootFromPath(tree[(i + 1) % n], i, n, path));
                }
                if (path.Count > 0)
                {
                    // A tampered sibling, or a path cut short, leads elsewhere. (The size itself is bound by the entry,
                    // which records it: a leaf of a complete left subtree has the same path in sizes that share it.)
                    var tampered = path.Select(p => p.ToArray()).ToList();
                    tampered[^1][0] ^= 1;
                    Assert.NotEqual(root, MerkleTree.RootFromPath(tree[i], i, n, tampered));
                    Assert.NotEqual(root, MerkleTree.RootFromPath(tree[i], i, n, path.Take(path.Count - 1).ToList()));
                }
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(1024)]
    [InlineData(1025)]
    [InlineData(2048)]
    [InlineData(3000)]
    [InlineData(5121)]
    public void The_streaming_accumulator_and_its_chunks_give_the_recursive_root(int n)
    {
        var leaves = Enumerable.Range(0, n).Select(i => MerkleTree.LeafHash(BitConverter.GetBytes(i))).ToList();
        var accumulator = new MerkleAccumulator();
        foreach (var leaf in leaves)
            accumulator.AddLeaf(leaf);
        Assert.Equal(MerkleTree.Root(leaves), accumulator.Root());
        var chunks = leaves.Chunk(MerkleAccumulator.ChunkLeaves).Select(c => MerkleTree.Root(c)).ToList();
        Assert.Equal(chunks, accumulator.ChunkHashes);
    }

    [Theory]
    [InlineData(2, 1)]
    [InlineData(3, 2)]
    [InlineData(4, 2)]
    [InlineData(5, 4)]
    [InlineData(9, 8)]
    [InlineData(1000, 512)]
    [InlineData(1025, 1024)]
    public void The_split_is_the_largest_power_of_two_below_n(long n, long k) => Assert.Equal(k, MerkleTree.SplitPoint(n));
}
