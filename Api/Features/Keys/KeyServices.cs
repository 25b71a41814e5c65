namespace Tally.Api.Features.Keys;

public static class KeyServices
{
    /// <summary>The bootstrap admin key, made at start when no admin key exists.</summary>
    public static IServiceCollection AddKeys(this IServiceCollection services)
    {
        services.AddHostedService<KeyBootstrap>();
        return services;
    }
}
