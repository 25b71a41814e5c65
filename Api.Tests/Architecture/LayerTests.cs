using NetArchTest.Rules;

namespace Tally.Api.Tests.Architecture;

/// <summary>
/// The layers of DESIGN.md: Features -> {Ledger, Security, Http, Problems, OpenApi} -> Ledger -> Data. A type that
/// names a layer above its own fails here, with the offending types listed.
/// </summary>
public sealed class LayerTests
{
    private const string Root = "Tally.Api";
    private const string Features = Root + ".Features";
    private const string Ledger = Root + ".Ledger";
    private const string Security = Root + ".Security";
    private const string Http = Root + ".Http";
    private const string Problems = Root + ".Problems";
    private const string OpenApi = Root + ".OpenApi";
    private const string Data = Root + ".Data";
    private const string Cli = Root + ".Cli";

    private static Types Api => Types.InAssembly(typeof(Tally.Api.Ledger.LedgerWriter).Assembly);

    public static TheoryData<string> LowerLayers => [Ledger, Security, Http, Problems, OpenApi, Data];

    [Theory]
    [MemberData(nameof(LowerLayers))]
    public void No_lower_layer_names_a_feature(string layer) =>
        AssertHolds(Api.That().ResideInNamespace(layer).ShouldNot().HaveDependencyOn(Features).GetResult(), layer);

    [Fact]
    public void The_ledger_names_neither_security_nor_the_pipeline() =>
        AssertHolds(Api.That().ResideInNamespace(Ledger)
            .ShouldNot().HaveDependencyOnAny(Security, Http, OpenApi, Cli).GetResult(), Ledger);

    [Fact]
    public void Problems_name_nothing_but_data() =>
        AssertHolds(Api.That().ResideInNamespace(Problems)
            .ShouldNot().HaveDependencyOnAny(Ledger, Security, Http, OpenApi, Cli).GetResult(), Problems);

    [Fact]
    public void Data_names_nothing_above_it() =>
        AssertHolds(Api.That().ResideInNamespace(Data)
            .ShouldNot().HaveDependencyOnAny(Ledger, Security, Http, Problems, OpenApi, Cli).GetResult(), Data);

    [Fact]
    public void Only_data_and_the_ledger_know_the_provider() =>
        AssertHolds(Api.That().ResideInNamespace(Features).Or().ResideInNamespace(Security).Or().ResideInNamespace(Http)
            .Or().ResideInNamespace(Cli)
            .ShouldNot().HaveDependencyOnAny("Microsoft.Data.Sqlite", "Npgsql").GetResult(), "Features");

    [Fact]
    public void The_bare_root_namespace_holds_only_Program()
    {
        var strays = typeof(Tally.Api.Ledger.LedgerWriter).Assembly.GetTypes()
            .Where(t => t.Namespace == Root && !t.Name.StartsWith('<'))
            .Select(t => t.FullName)
            .ToList();
        Assert.Empty(strays);
    }

    private static void AssertHolds(NetArchTest.Rules.TestResult result, string layer) =>
        Assert.True(result.IsSuccessful,
            $"{layer} names a layer above it: " + string.Join(", ", result.FailingTypeNames ?? []));
}
