using System.Diagnostics.CodeAnalysis;

// The folder, namespace and OpenAPI tag are named after the route (/imports) like every other feature area; no
// Visual Basic consumer will ever import this web application's namespaces.
[assembly: SuppressMessage("Naming", "CA1716:Identifiers should not match keywords", Scope = "namespace",
    Target = "~N:Tally.Api.Features.Imports", Justification = "Feature areas are named after their routes.")]
