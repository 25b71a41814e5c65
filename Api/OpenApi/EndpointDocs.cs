using FastEndpoints;

namespace Tally.Api.OpenApi;

/// <summary>Success responses FastEndpoints cannot infer (it assumes 200 for everything).</summary>
public static class EndpointDocs
{
    /// <summary>A create: 201 with <typeparamref name="TResponse"/> and a Location header.</summary>
    public static RouteHandlerBuilder Creates<TResponse>(this RouteHandlerBuilder builder) =>
        builder.ClearDefaultProduces(200).Produces<TResponse>(201, "application/json");

    /// <summary>A create that answers 200 with the original when the same request is replayed.</summary>
    public static RouteHandlerBuilder CreatesOrReplays<TResponse>(this RouteHandlerBuilder builder) =>
        builder.ClearDefaultProduces(200).Produces<TResponse>(201, "application/json").Produces<TResponse>(200, "application/json");
}

/// <summary>The endpoint reads its body as a raw file of one of these content types (documented as a binary string).</summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class FileBodyAttribute(string description, params string[] contentTypes) : Attribute
{
    public string Description { get; } = description;
    public IReadOnlyList<string> ContentTypes { get; } = contentTypes;
}
