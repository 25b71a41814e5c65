using System.Collections.Concurrent;
using FastEndpoints;

namespace Tally.Api;

/// <summary>
/// FastEndpoints keeps one service resolver in a static field, and builds each endpoint's validator with it on first use.
/// Where one process hosts several apps (the tests run a shared app beside apps with their own settings), the app
/// started last would build every app's validators with its own services: its catalog, its clock. This resolver
/// builds from the services of the request being served, so each app's validators see that app's services.
/// </summary>
public sealed class RequestServiceResolver(IServiceProvider root, IHttpContextAccessor http) : IServiceResolver
{
    private readonly ConcurrentDictionary<Type, ObjectFactory> _factories = new();

    private IServiceProvider Current => http.HttpContext?.RequestServices ?? root;

    public object CreateInstance(Type type, IServiceProvider? serviceProvider = null) =>
        _factories.GetOrAdd(type, t => ActivatorUtilities.CreateFactory(t, Type.EmptyTypes))(serviceProvider ?? Current, null);

    public object CreateSingleton(Type type) => ActivatorUtilities.CreateInstance(Current, type);

    public IServiceScope CreateScope() => root.CreateScope();

    public TService Resolve<TService>() where TService : class => Current.GetRequiredService<TService>();

    public object Resolve(Type typeOfService) => Current.GetRequiredService(typeOfService);

    public TService? TryResolve<TService>() where TService : class => Current.GetService<TService>();

    public object? TryResolve(Type typeOfService) => Current.GetService(typeOfService);

    public TService Resolve<TService>(string keyName) where TService : class => Current.GetRequiredKeyedService<TService>(keyName);

    public object Resolve(Type typeOfService, string keyName) => Current.GetRequiredKeyedService(typeOfService, keyName);

    public TService? TryResolve<TService>(string keyName) where TService : class => Current.GetKeyedService<TService>(keyName);

    public object? TryResolve(Type typeOfService, string keyName) =>
        Current is IKeyedServiceProvider keyed ? keyed.GetKeyedService(typeOfService, keyName) : null;
}
