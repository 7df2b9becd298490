using System.Net;

namespace CodeGen.Core.Llm;

/// <summary>
/// The HTTP connection pool behind every request. One process-wide handler keeps connections warm across
/// runs in the same session (a second pipeline does not pay for new TCP/TLS handshakes).
/// </summary>
public static class LlmHttpHandler
{
    private static readonly Lazy<SocketsHttpHandler> SharedHandler = new(Create);

    /// <summary>The shared pool. Never dispose it.</summary>
    public static HttpMessageHandler Shared => SharedHandler.Value;

    public static SocketsHttpHandler Create() => new()
    {
        // Concurrency is limited by the run (ThrottleLimit), not by the pool.
        MaxConnectionsPerServer = int.MaxValue,
        // Recycle connections so DNS changes (failover, scaling) are picked up on long runs.
        PooledConnectionLifetime = TimeSpan.FromMinutes(10),
        PooledConnectionIdleTimeout = TimeSpan.FromSeconds(90),
        ConnectTimeout = TimeSpan.FromSeconds(30),
        AutomaticDecompression = DecompressionMethods.All,
        EnableMultipleHttp2Connections = true,
        UseCookies = false,
        AllowAutoRedirect = false,
    };
}
