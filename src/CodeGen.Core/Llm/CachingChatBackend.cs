using CodeGen.Core.Rows;
using CodeGen.Core.Running;

namespace CodeGen.Core.Llm;

/// <summary>
/// Puts a <see cref="ResponseCache"/> in front of whatever answers a run (a live endpoint, or a batch job's
/// results), in one of the <see cref="CacheMode"/>s. Keys are those of the requests the live
/// <see cref="LlmClient"/> would send, so answers stored from any source are found by any run.
/// </summary>
public sealed class CachingChatBackend : IChatBackend
{
    private readonly LlmClient _client;
    private readonly IChatBackend _answers;

    /// <param name="client">The live client: its endpoint and request bodies make the keys (and it answers misses unless <paramref name="answers"/> does).</param>
    /// <param name="answers">Where answers that are not read from the cache come from; default <paramref name="client"/>.</param>
    public CachingChatBackend(LlmClient client, ResponseCache cache, CacheMode mode = CacheMode.ReadWrite, IChatBackend? answers = null)
    {
        if (mode != CacheMode.ReadOnly && !cache.Writable)
        {
            throw new ArgumentException("Only a read-only run can use a read-only cache.", nameof(cache));
        }
        _client = client;
        _answers = answers ?? client;
        Cache = cache;
        Mode = mode;
    }

    public ResponseCache Cache { get; }

    public CacheMode Mode { get; }

    public TimeProvider Time => _client.Time;

    public int MaxConcurrency => _answers.MaxConcurrency;

    public (int Limit, int InFlight, long Throttled) ConcurrencySnapshot => _answers.ConcurrencySnapshot;

    public void CheckParameters(ChatParameters parameters) => _client.CheckParameters(parameters);

    public void StopSending() => _answers.StopSending();

    public async Task<ChatCallResult> CompleteAsync(PreparedRow row, ChatParameters parameters, CancellationToken cancellationToken)
    {
        var request = CacheRequest.Of(_client.Endpoint.RequestUri, _client.InitialBody(row.Prompt.Messages!, parameters));
        string? problem = null;
        if (Mode != CacheMode.Refresh && Cache.TryGet(request, out var cached, out problem))
        {
            // a cache is a file anyone may have written (or committed): its text is masked like a server's
            var hit = ChatCallResult.Success(cached!.Masked(_client.Redact), 200);
            hit.FromCache = true;
            return hit;
        }
        if (Mode == CacheMode.ReadOnly)
        {
            return ChatCallResult.Failure(RowErrorKind.CacheMiss, problem is null
                ? $"the response cache {Cache.Directory} holds no answer for this request (key {request.Key[..12]}…), and a read-only run sends nothing."
                : $"the response cache's entry for this request cannot be used ({_client.Redact(problem)}), and a read-only run sends nothing.");
        }
        var result = await _answers.CompleteAsync(row, parameters, cancellationToken).ConfigureAwait(false);
        if (result.Answer is { } answer)
        {
            Cache.Store(request, answer, _client.Redact);
        }
        return result;
    }
}
