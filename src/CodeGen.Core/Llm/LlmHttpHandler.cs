using System.Collections.Concurrent;
using System.Net;

namespace CodeGen.Core.Llm;

/// <summary>
/// The HTTP connection pools. One process-wide pool per proxy setting keeps connections warm across runs in
/// the same session (a second pipeline does not pay for new TCP/TLS handshakes).
/// </summary>
public static class LlmHttpHandler
{
    private static readonly ConcurrentDictionary<(Uri? Proxy, ICredentials? Credentials), Lazy<SocketsHttpHandler>> Pools = new();

    /// <summary>The pool for the system proxy settings (HTTP_PROXY, HTTPS_PROXY, NO_PROXY). Never dispose it.</summary>
    public static HttpMessageHandler Shared => For(null, null);

    /// <summary>The pool for an explicit proxy (null: the system's). Never dispose it.</summary>
    public static HttpMessageHandler For(Uri? proxy, ICredentials? credentials)
        => Pools.GetOrAdd((proxy, credentials), key => new Lazy<SocketsHttpHandler>(() => Create(key.Proxy, key.Credentials))).Value;

    public static SocketsHttpHandler Create(Uri? proxy = null, ICredentials? proxyCredentials = null)
    {
        var handler = new SocketsHttpHandler
        {
            // Concurrency is limited by the run (ThrottleLimit), not by the pool.
            MaxConnectionsPerServer = int.MaxValue,
            // Recycle connections so DNS changes (failover, scaling) are picked up on long runs.
            PooledConnectionLifetime = TimeSpan.FromMinutes(10),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(90),
            ConnectTimeout = TimeSpan.FromSeconds(30),
            // Answers are a few KB of JSON: compression saves little and costs a handler layer on every request.
            AutomaticDecompression = DecompressionMethods.None,
            EnableMultipleHttp2Connections = true,
            UseCookies = false,
            // A redirect could carry the request (and its key) somewhere else: report it instead.
            AllowAutoRedirect = false,
        };
        if (proxy is not null)
        {
            // http://user:password@proxy:3128: the user and password are credentials, never part of the address
            if (proxyCredentials is null && proxy.UserInfo.Length > 0)
            {
                var parts = proxy.UserInfo.Split(':', 2);
                proxyCredentials = new NetworkCredential(Uri.UnescapeDataString(parts[0]), parts.Length > 1 ? Uri.UnescapeDataString(parts[1]) : string.Empty);
            }
            handler.Proxy = new WebProxy(new UriBuilder(proxy) { UserName = string.Empty, Password = string.Empty }.Uri) { Credentials = proxyCredentials };
            handler.UseProxy = true;
        }
        return handler;
    }

    /// <summary>A proxy address as it may be shown: the user and password in it masked.</summary>
    public static string Shown(Uri proxy)
    {
        if (proxy.UserInfo.Length == 0)
        {
            return proxy.ToString();
        }
        // the user name too: it is sometimes a token on its own (http://ghp_...@proxy)
        return new UriBuilder(proxy) { UserName = "****", Password = string.Empty }.Uri.ToString();
    }
}
