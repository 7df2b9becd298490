using System.Buffers;
using System.Net.Http.Headers;

namespace CodeGen.Core.Llm;

/// <summary>What one attempt received: the parsed answer of a 2xx, or the text and code of an error.</summary>
internal sealed class AttemptBody
{
    /// <summary>The parsed answer of a 2xx (in the API's shape); null for an error status or an unusable body.</summary>
    public ChatAnswer? Answer { get; init; }

    /// <summary>Why a 2xx body could not be used (truncated JSON, no choices, no output).</summary>
    public string? Problem { get; init; }

    /// <summary>A 2xx body that asking again would not mend (its text is not valid Unicode): not retried.</summary>
    public bool Lasting => Answer is null && Problem == ChatAnswer.NotUnicode;

    /// <summary>
    /// What an error body (at most 16 KB of it) said: message, error.code / error.type (such as insufficient_quota)
    /// and param. Read once, here; not yet masked (whoever shows the message masks it).
    /// </summary>
    public ServerError? Error { get; init; }

    public string? ErrorCode => Error?.Code;
}

/// <summary>
/// The state of one request across its attempts, shared by the handlers and the resilience callbacks (one
/// entry in the request's options).
/// </summary>
internal sealed class Exchange
{
    public AttemptLog Log { get; } = new();

    /// <summary>Tokens the request counts against a tokens-per-minute limit.</summary>
    public int TokenEstimate { get; init; }

    /// <summary>The generation of the concurrency limit that admitted the latest attempt.</summary>
    public int Epoch { get; set; }

    /// <summary>What the latest attempt received.</summary>
    public AttemptBody? Body { get; set; }

    /// <summary>The time the attempts spent on the wire (sent, answered, read), without the waits before and between them.</summary>
    public TimeSpan WireTime { get; set; }

    /// <summary>The client that wrote the body: it writes it again when the way it speaks (API, rules) changed since.</summary>
    public LlmClient? Owner { get; init; }

    public IReadOnlyList<Prompting.ChatMessage>? Messages { get; init; }

    public ChatParameters? Parameters { get; init; }

    /// <summary>The endpoint (its API) and rules the request's content was written with: the API reads its answer.</summary>
    public LlmClient.Speech? Speech { get; set; }

    /// <summary>The wire format the answer is read in (chat completions for a request CodeGen did not write).</summary>
    public WireApi Api => Speech?.Endpoint.Api ?? WireApi.ChatCompletions;

    /// <summary>What the latest refusal (a 400 about a field the request carried, or about the API) taught the owner.</summary>
    public Adaptation Adaptation { get; set; }

    /// <summary>What changed, when this exchange was the one that changed the owner.</summary>
    public string? Notice { get; set; }
}

/// <summary>
/// The innermost step of every attempt: writes the body again if the way the client speaks to the server (its API,
/// the fields it refused) changed since it was written; reads the whole answer while the attempt's timeout still runs (a server that stalls mid-body times
/// out like one that never answers), into a pooled buffer, and parses it there once, so a 200 whose body is
/// not a usable completion is a failed attempt that the retry strategy can see; and tells the pacer (rate-limit
/// headers) and the concurrency limit (refused or answered) what the server said.
/// </summary>
internal sealed class AttemptHandler : DelegatingHandler
{
    public static readonly HttpRequestOptionsKey<Exchange> ExchangeKey = new("CodeGen.Exchange");

    private const int MaxErrorBytes = 16 * 1024;

    private readonly RatePacer _pacer;
    private readonly AdaptiveConcurrencyLimiter _concurrency;
    private readonly AnswerBudget _buffers;

    private readonly TimeProvider _time;

    /// <param name="time">The clock that times each attempt on the wire (the pipeline's).</param>
    public AttemptHandler(HttpMessageHandler inner, RatePacer pacer, AdaptiveConcurrencyLimiter concurrency, AnswerBudget buffers, TimeProvider time) : base(inner)
    {
        _time = time;
        _pacer = pacer;
        _concurrency = concurrency;
        _buffers = buffers;
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        long started = _time.GetTimestamp();
        var exchange = ExchangeOf(request);
        exchange?.Owner?.RewriteIfStale(request, exchange);
        HttpResponseMessage response;
        try
        {
            response = exchange?.Owner?.RefusalForEveryRow is { } refusal
                ? new HttpResponseMessage(System.Net.HttpStatusCode.BadRequest) { RequestMessage = request, Content = new StringContent(refusal, System.Text.Encoding.UTF8, "application/json") }
                : await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch when (exchange is not null)
        {
            exchange.WireTime += _time.GetElapsedTime(started); // an attempt that timed out or broke was on the wire too
            throw;
        }
        int status = (int)response.StatusCode;
        bool budgetSpent = _pacer.Observe(response.Headers, status, exchange?.TokenEstimate ?? 0, rowAnswer: exchange is not null);
        if (exchange is null)
        {
            return response; // not a row's request (a file upload, a batch poll): left as it came
        }
        // The body is consumed here: the caller (LlmClient) reads the exchange, with ResponseHeadersRead.
        // Of an error, only the start is kept; of an answer, at most the per-answer cap, and only while the answers
        // being read at once stay within their shared budget (a server that sends many huge answers together).
        int most = response.IsSuccessStatusCode ? _buffers.MaxAnswerBytes : MaxErrorBytes;
        AnswerBuffer? buffer = null;
        try
        {
            // as big as the server says the body is (no growing, no copies), within the caps
            buffer = new AnswerBuffer(_buffers, (int)Math.Clamp(response.Content.Headers.ContentLength + 1 ?? 4096, 256, most + 1L));
            int length = await buffer.ReadAsync(response.Content, most, cut: !response.IsSuccessStatusCode, cancellationToken).ConfigureAwait(false);
            var body = buffer.Span[..length];
            AttemptBody attempt;
            if (response.IsSuccessStatusCode)
            {
                var answer = exchange.Api.ParseAnswer(body, out var problem);
                attempt = new AttemptBody { Answer = answer, Problem = problem };
            }
            else
            {
                string text = System.Text.Encoding.UTF8.GetString(body);
                attempt = new AttemptBody { Error = exchange.Api.ReadError(text) };
                if (status == 400)
                {
                    exchange.Owner?.LearnFromRefusal(exchange, attempt.Error.Value);
                    if (exchange.Adaptation == Adaptation.RefusedForEveryRow)
                    {
                        exchange.Owner?.RefuseEveryRow(text);
                    }
                }
            }
            exchange.Body = attempt;
            if (status is 429 or 529)
            {
                // a spent budget is a matter of pace; no quota is a matter of money: neither says the server is overloaded
                // (Anthropic's 529 says so in as many words)
                _concurrency.OnRefused(exchange.Epoch, overload: status == 529 || (!budgetSpent && attempt.ErrorCode != "insufficient_quota"));
            }
            else
            {
                _concurrency.OnAnswered(exchange.Epoch, success: attempt.Answer is not null);
            }
            return response;
        }
        catch
        {
            response.Dispose();
            throw;
        }
        finally
        {
            buffer?.Dispose();
            exchange.WireTime += _time.GetElapsedTime(started);
        }
    }

    internal static Exchange? ExchangeOf(HttpRequestMessage? request)
        => request?.Options.TryGetValue(ExchangeKey, out var exchange) == true ? exchange : null;

    internal static AttemptBody? BodyOf(HttpResponseMessage response) => ExchangeOf(response.RequestMessage)?.Body;

    /// <summary>retry-after-ms (OpenAI), else Retry-After in seconds or as an HTTP date (from now on <paramref name="time"/>); null when absent.</summary>
    internal static TimeSpan? RetryAfter(HttpResponseHeaders headers, TimeProvider time)
    {
        if (headers.TryGetValues("retry-after-ms", out var values)
            && double.TryParse(values.FirstOrDefault(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double ms) && ms >= 0)
        {
            return TimeSpan.FromMilliseconds(ms);
        }
        if (headers.RetryAfter is { } retryAfter)
        {
            if (retryAfter.Delta is { } delta)
            {
                return delta;
            }
            if (retryAfter.Date is { } date)
            {
                var wait = date - time.GetUtcNow();
                return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
            }
        }
        return null;
    }
}

/// <summary>An answer too big to read: over the per-answer cap, or over what the answers read at once may hold together. Not worth another attempt.</summary>
public sealed class AnswerTooLargeException : Exception
{
    public AnswerTooLargeException(string message) : base(message) { }
}

/// <summary>The bytes the answers being read at once may hold together, and the most one answer may have.</summary>
internal sealed class AnswerBudget(int maxAnswerBytes, long maxBufferedBytes)
{
    private long _held;

    public int MaxAnswerBytes { get; } = maxAnswerBytes;

    public long MaxBufferedBytes { get; } = maxBufferedBytes;

    public bool TryTake(long bytes)
    {
        if (Interlocked.Add(ref _held, bytes) <= MaxBufferedBytes)
        {
            return true;
        }
        Interlocked.Add(ref _held, -bytes);
        return false;
    }

    public void Give(long bytes) => Interlocked.Add(ref _held, -bytes);
}

/// <summary>One answer's bytes: pooled arrays, grown by doubling, each growth taken from the shared budget first.</summary>
internal sealed class AnswerBuffer : IDisposable
{
    private readonly AnswerBudget _budget;
    private byte[] _array;
    private long _taken;

    public AnswerBuffer(AnswerBudget budget, int initial)
    {
        _budget = budget;
        _array = [];
        Take(initial);
        _array = Rent(initial);
    }

    /// <summary>Up to 1 MB the pool's arrays (answers are a few KB); a bigger one is the collector's, not kept in the pool for the process's life.</summary>
    private const int PooledUpTo = 1024 * 1024;

    private static byte[] Rent(int size) => size <= PooledUpTo ? ArrayPool<byte>.Shared.Rent(size) : GC.AllocateUninitializedArray<byte>(size);

    private static void Return(byte[] array)
    {
        if (array.Length > 0 && array.Length <= PooledUpTo)
        {
            ArrayPool<byte>.Shared.Return(array);
        }
    }

    public ReadOnlySpan<byte> Span => _array;

    /// <summary>
    /// Reads the whole content. With <paramref name="cut"/>, stops after <paramref name="most"/> bytes (the start of an
    /// error says what went wrong); without, content over <paramref name="most"/> bytes is refused.
    /// </summary>
    public async Task<int> ReadAsync(HttpContent content, int most, bool cut, CancellationToken cancellationToken)
    {
        await using var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        int ceiling = cut ? most : most + 1; // one byte more than allowed tells that there is more
        int length = 0;
        while (true)
        {
            if (length == _array.Length && length < ceiling)
            {
                Grow(Math.Min(_array.Length * 2, ceiling));
            }
            int room = Math.Min(_array.Length, ceiling) - length;
            if (room == 0)
            {
                return length; // cut
            }
            int read = await stream.ReadAsync(_array.AsMemory(length, room), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return length;
            }
            length += read;
            if (length > most)
            {
                throw new AnswerTooLargeException($"the answer is larger than {most / (1024.0 * 1024):0.##} MB");
            }
        }
    }

    private void Grow(int size)
    {
        Take(size - _taken); // the budget holds the size of the one array kept, not of every array on the way
        var bigger = Rent(size);
        _array.AsSpan().CopyTo(bigger);
        Return(_array);
        _array = bigger;
    }

    private void Take(long bytes)
    {
        if (!_budget.TryTake(bytes))
        {
            throw new AnswerTooLargeException(
                $"the answers being read at once would hold more than {_budget.MaxBufferedBytes / (1024 * 1024)} MB (this one had reached {_taken / 1024} KB)");
        }
        _taken += bytes;
    }

    public void Dispose()
    {
        Return(Interlocked.Exchange(ref _array, []));
        _budget.Give(_taken);
        _taken = 0;
    }
}
