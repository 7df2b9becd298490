using System.Collections.Concurrent;

namespace CodeGen.Core.Llm;

/// <summary>
/// What the servers of a session said about rate budgets, by request URL, kept from one run to the next. A run's
/// <see cref="RatePacer"/> starts with a warm-up (a few attempts, then a wait for the server's first answer, in case it
/// announces a budget that a full first wave would overrun); against a server whose answers announced no budget in an
/// earlier run of the session there is nothing to wait for, so the next run starts at full speed. A server that
/// announced one once is warmed up for every time.
/// </summary>
/// <remarks>
/// The session keeps one (the cmdlets: per runspace, forgotten with the endpoint defaults); an engine caller without
/// one warms up every run. The pacer still reads every answer's headers: a server that starts announcing a budget
/// is paced to it from its first such answer.
/// </remarks>
public sealed class PaceMemory
{
    private readonly ConcurrentDictionary<string, Server> _servers = new(StringComparer.Ordinal);

    /// <summary>What is known of the server at <paramref name="requestUri"/> (an empty record the first time).</summary>
    public Server For(Uri requestUri) => _servers.GetOrAdd(requestUri.AbsoluteUri, static _ => new Server());

    /// <summary>What one server's answers said so far.</summary>
    public sealed class Server
    {
        private const int Unknown = 0, Silent = 1, Announcing = 2;

        private int _state;

        /// <summary>True when answers were heard and none announced a budget.</summary>
        public bool AnnouncesNothing => Volatile.Read(ref _state) == Silent;

        /// <summary>An answer was heard; <paramref name="announced"/>: its headers named a budget (then it stays known as announcing).</summary>
        public void Heard(bool announced)
        {
            if (announced)
            {
                Volatile.Write(ref _state, Announcing);
            }
            else if (Volatile.Read(ref _state) == Unknown)
            {
                Interlocked.CompareExchange(ref _state, Silent, Unknown);
            }
        }
    }
}
