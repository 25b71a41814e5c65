using System.Diagnostics.CodeAnalysis;

// Tests mirror Api/Features/Imports, named after the route like every other feature area.
[assembly: SuppressMessage("Naming", "CA1716:Identifiers should not match keywords", Scope = "namespace",
    Target = "~N:Tally.Api.Tests.Features.Imports", Justification = "Tests mirror the feature areas.")]
