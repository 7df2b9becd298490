using System.Net.Http.Headers;

namespace CodeGen.Core.Llm;

/// <summary>What one attempt received, kept on the request for the retry predicate and the client.</summary>
internal sealed class AttemptBody
{
    public required byte[] Bytes { get; init; }

    /// <summary>The parsed chat completion of a 2xx answer; null for an error status or an unusable body.</summary>
    public ChatAnswer? Answer { get; init; }

    /// <summary>Why a 2xx body could not be used (truncated JSON, no choices).</summary>
    public string? Problem { get; init; }

    /// <summary>error.code / error.type of an error body, such as insufficient_quota.</summary>
    public string? ErrorCode { get; init; }
}

/// <summary>
/// The innermost step of every attempt: reads the whole body while the attempt's timeout still runs (a server
/// that stalls mid-body times out like one that never answers), and parses it once. A 200 whose body is not a
/// usable completion is then a failed attempt that the retry strategy can see.
/// </summary>
internal sealed class ChatResponseHandler : DelegatingHandler
{
    public static readonly HttpRequestOptionsKey<AttemptBody> BodyKey = new("CodeGen.AttemptBody");

    public ChatResponseHandler(HttpMessageHandler inner) : base(inner)
    {
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        byte[] bytes;
        try
        {
            bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            response.Dispose();
            throw;
        }
        AttemptBody body;
        if (response.IsSuccessStatusCode)
        {
            var answer = ChatAnswer.Parse(bytes, out var problem);
            body = new AttemptBody { Bytes = bytes, Answer = answer, Problem = problem };
        }
        else
        {
            body = new AttemptBody { Bytes = bytes, ErrorCode = ErrorBody.Read(System.Text.Encoding.UTF8.GetString(bytes)).Code };
        }
        request.Options.Set(BodyKey, body);
        return response;
    }

    internal static AttemptBody? BodyOf(HttpResponseMessage response)
        => response.RequestMessage?.Options.TryGetValue(BodyKey, out var body) == true ? body : null;

    /// <summary>retry-after-ms (OpenAI), else Retry-After in seconds or as an HTTP date; null when absent.</summary>
    internal static TimeSpan? RetryAfter(HttpResponseHeaders headers)
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
                var wait = date - DateTimeOffset.UtcNow;
                return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
            }
        }
        return null;
    }
}
