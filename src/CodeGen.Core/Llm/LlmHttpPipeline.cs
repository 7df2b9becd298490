using System.Net;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Http.Resilience;
using Polly;
using Polly.CircuitBreaker;
using Polly.Timeout;

namespace CodeGen.Core.Llm;

/// <summary>The reasons of the attempts of one request that were retried ("429", "503", "timeout"...).</summary>
internal sealed class AttemptLog
{
    private readonly List<string> _retried = [];

    public IReadOnlyList<string> Retried => _retried;

    public void Add(string reason)
    {
        lock (_retried)
        {
            _retried.Add(reason);
        }
    }
}

/// <summary>
/// Where retries, timeouts, the circuit breaker, pacing and concurrency live: one Polly pipeline, built from
/// Microsoft.Extensions.Http.Resilience's HTTP strategy options, in front of the connection pool.
/// </summary>
/// <remarks>
/// Per request: retry (exponential backoff with jitter, or exactly what retry-after-ms / Retry-After say) →
/// <see cref="RatePacer"/> (the requests and tokens a minute given or announced by the server) → adaptive
/// concurrency (a permit per attempt, none while waiting to retry) → circuit breaker → per-attempt timeout →
/// <see cref="RequestAuthenticator"/> (credentials) → <see cref="AttemptHandler"/> (reads and parses the body
/// inside the attempt, tells the pacer and the concurrency limit what the server said) → sockets.
/// Retried: 408, 429 (not insufficient_quota), 500, 502, 503, 504, 529 (Anthropic's overloaded), connection failures
/// and resets, attempt timeouts, and 2xx bodies that are not a usable answer. Never retried: 400, 401, 403, 404, 422.
/// </remarks>
public sealed class LlmHttpPipeline : IDisposable
{

    private readonly List<IDisposable> _owned = [];
    private readonly CancellationTokenSource _stopSending = new();
    private string? _breakCause;

    /// <param name="timeProvider">
    /// The one clock of the pipeline (tests): backoff and Retry-After waits, attempt timeouts, the circuit breaker's
    /// window and break, the pacer's budgets and holds. Null: the system's.
    /// </param>
    public LlmHttpPipeline(ResilienceSettings settings, LlmEndpoint endpoint, EntraIdTokenSource? entraTokens = null, TimeProvider? timeProvider = null)
    {
        var time = timeProvider ?? TimeProvider.System;
        Settings = settings;
        Concurrency = new AdaptiveConcurrencyLimiter(settings.MaxConcurrency, time);
        Pacer = new RatePacer(settings.RequestsPerMinute, settings.TokensPerMinute, settings.MaxDelay, time, endpoint.Api.RateLimitHeaders,
            settings.PaceMemory?.For(endpoint.RequestUri));
        _owned.Add(Concurrency);
        _owned.Add(Pacer);
        _owned.Add(_stopSending);
        var builder = new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = time };

        if (settings.MaxRetries > 0)
        {
            builder.AddRetry(new HttpRetryStrategyOptions
            {
                MaxRetryAttempts = settings.MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = settings.BaseDelay,
                MaxDelay = settings.MaxDelay,
                ShouldRetryAfterHeader = false, // the delay generator below reads retry-after-ms as well as Retry-After
                ShouldHandle = args => ValueTask.FromResult(IsRetryable(args.Outcome)
                    && (!IsNotIdempotent(args.Context.GetRequestMessage()) || args.Outcome.Result?.StatusCode is HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable or (HttpStatusCode)529)),
                DelayGenerator = args => ValueTask.FromResult(args.Outcome.Result is { } response ? AttemptHandler.RetryAfter(response.Headers, time) : null),
                OnRetry = args =>
                {
                    AttemptHandler.ExchangeOf(args.Context.GetRequestMessage())?.Log.Add(Describe(args.Outcome));
                    return default;
                },
            });
        }

        // One strategy for both gates (one layer less for every attempt): first the attempt's turn in the pace,
        // then a place among the attempts in flight. Both are held until the attempt ends.
        builder.AddRateLimiter(new HttpRateLimiterStrategyOptions
        {
            RateLimiter = async args =>
            {
                var stop = _stopSending.Token;
                if (stop.IsCancellationRequested)
                {
                    throw new SendingStoppedException();
                }
                var exchange = AttemptHandler.ExchangeOf(args.Context.GetRequestMessage());
                var turn = await Admit(Pacer.AcquireAsync(exchange?.TokenEstimate ?? 1, args.Context.CancellationToken), stop).ConfigureAwait(false);
                try
                {
                    var place = await Admit(Concurrency.AcquireAsync(1, args.Context.CancellationToken), stop).ConfigureAwait(false);
                    if (stop.IsCancellationRequested)
                    {
                        place.Dispose();
                        throw new SendingStoppedException();
                    }
                    if (exchange is not null)
                    {
                        exchange.Epoch = Concurrency.Epoch; // which limit admitted this attempt
                    }
                    return new BothLeases(turn, place);
                }
                catch
                {
                    turn.Dispose();
                    throw;
                }
            },
        });

        builder.AddCircuitBreaker(new HttpCircuitBreakerStrategyOptions
        {
            FailureRatio = settings.BreakerFailureRatio,
            MinimumThroughput = settings.BreakerMinimumThroughput,
            SamplingDuration = settings.BreakerSamplingDuration,
            BreakDuration = settings.BreakerBreakDuration,
            ShouldHandle = args =>
            {
                if (!IsServerFailure(args.Outcome))
                {
                    return ValueTask.FromResult(false);
                }
                // kept before the breaker counts it: whoever finds the circuit open can say what opened it
                Volatile.Write(ref _breakCause, CauseOf(args.Outcome));
                return ValueTask.FromResult(true);
            },
        });
        builder.AddTimeout(new HttpTimeoutStrategyOptions { Timeout = settings.AttemptTimeout });

        var attempts = new AttemptHandler(LlmHttpHandler.For(settings.Proxy, settings.ProxyCredentials), Pacer, Concurrency,
            new AnswerBudget(settings.MaxAnswerBytes, settings.MaxBufferedAnswerBytes), time);
        Authenticator = new RequestAuthenticator(endpoint, entraTokens, attempts, settings.Headers.Values);
        Handler = new ResilienceHandler(builder.Build()) { InnerHandler = Authenticator };
    }

    public ResilienceSettings Settings { get; }

    /// <summary>
    /// Marks a request that must not be sent twice (creating a batch): it is retried only after an answer that
    /// says the server did nothing (429, 503), never after a timeout or a broken connection.
    /// </summary>
    public static readonly HttpRequestOptionsKey<bool> NotIdempotentKey = new("CodeGen.NotIdempotent");

    private static bool IsNotIdempotent(HttpRequestMessage? request) => request?.Options.TryGetValue(NotIdempotentKey, out bool value) == true && value;

    /// <summary>The gate every attempt passes: its limit comes down when the server is overloaded and climbs back with successes.</summary>
    public AdaptiveConcurrencyLimiter Concurrency { get; }

    /// <summary>The requests and tokens a minute attempts keep to, given or learned from the server.</summary>
    public RatePacer Pacer { get; }

    /// <summary>Sets the credentials on every attempt, and masks them in what servers send back.</summary>
    internal RequestAuthenticator Authenticator { get; }

    /// <summary>The handler to give an HttpClient (created with disposeHandler: false: the pool underneath is shared).</summary>
    public HttpMessageHandler Handler { get; }

    /// <summary>
    /// No attempt starts from now on: attempts waiting for their turn or a place end with <see cref="SendingStoppedException"/>,
    /// as does every later one (a retry included), while the attempts already on the wire go on to their answers.
    /// </summary>
    public void StopSending()
    {
        try
        {
            _stopSending.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // disposed: nothing is sent any more anyway
        }
    }

    /// <summary>
    /// A lease being acquired, given up when sending stops first. Most are granted at once (no wait, nothing allocated);
    /// one still being waited for when sending stops is released as soon as it is granted.
    /// </summary>
    private static async ValueTask<RateLimitLease> Admit(ValueTask<RateLimitLease> acquiring, CancellationToken stop)
    {
        if (acquiring.IsCompleted)
        {
            return acquiring.Result;
        }
        var waiting = acquiring.AsTask();
        try
        {
            return await waiting.WaitAsync(stop).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // given up: the lease goes back the moment it is granted (or now, if it was granted meanwhile)
            _ = waiting.ContinueWith(static acquired =>
            {
                if (acquired.IsCompletedSuccessfully)
                {
                    acquired.Result.Dispose();
                }
                else
                {
                    _ = acquired.Exception; // observed: a wait that ended in an error after it was given up is of no interest
                }
            }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            throw new SendingStoppedException();
        }
    }

    /// <summary>Worth another attempt: the same request may well succeed later.</summary>
    internal static bool IsRetryable(Outcome<HttpResponseMessage> outcome)
    {
        if (outcome.Exception is { } exception)
        {
            return exception is not BrokenCircuitException && IsTransient(exception);
        }
        var response = outcome.Result!;
        if (response.IsSuccessStatusCode)
        {
            return AttemptHandler.BodyOf(response) is { Answer: null, Lasting: false }; // truncated JSON, no choices
        }
        return (int)response.StatusCode switch
        {
            429 => AttemptHandler.BodyOf(response)?.ErrorCode != "insufficient_quota", // waiting will not buy quota
            408 or 500 or 502 or 503 or 504 or 529 => true,
            _ => false,
        };
    }

    /// <summary>Counts against the circuit breaker: the endpoint itself failed (not a 4xx, not a rate limit).</summary>
    internal static bool IsServerFailure(Outcome<HttpResponseMessage> outcome)
    {
        if (outcome.Exception is { } exception)
        {
            return IsTransient(exception);
        }
        var response = outcome.Result!;
        return (int)response.StatusCode is 500 or 502 or 503 or 504 or 529
            || (response.IsSuccessStatusCode && AttemptHandler.BodyOf(response) is { Answer: null, Lasting: false });
    }

    /// <summary>
    /// What the last attempt that counted against the circuit breaker ran into ("Connection refused (127.0.0.1:11434)", "no
    /// answer within 600 s", "the server answered 503 Service Unavailable"), with the credentials masked; null while none did.
    /// </summary>
    public string? BreakCause => Volatile.Read(ref _breakCause);

    private string CauseOf(Outcome<HttpResponseMessage> outcome) => Authenticator.Redact(outcome.Exception switch
    {
        TimeoutRejectedException => $"no answer within {Settings.AttemptTimeout.TotalSeconds:0.###} s",
        // a 2xx counts against the endpoint when its body is no answer (cut short, no choices): say that, not "200 OK"
        null when outcome.Result!.IsSuccessStatusCode => $"an answer that could not be used ({ErrorBody.Shown(AttemptHandler.BodyOf(outcome.Result)?.Problem ?? "the body could not be read")})",
        null => ErrorBody.StatusText((int)outcome.Result!.StatusCode, outcome.Result.ReasonPhrase, null, text => text).TrimEnd('.'),
        var exception => ErrorBody.ConnectionFailure(exception).TrimEnd('.'),
    });

    /// <summary>Connection failures, resets and attempt timeouts (the library's own notion of a transient exception).</summary>
    private static bool IsTransient(Exception exception)
        => exception is TimeoutRejectedException or IOException || HttpClientResiliencePredicates.IsTransient(Outcome.FromException<HttpResponseMessage>(exception));

    private static string Describe(Outcome<HttpResponseMessage> outcome) => outcome.Exception switch
    {
        TimeoutRejectedException => "timeout",
        null when outcome.Result!.IsSuccessStatusCode => "unusable answer",
        null => ((int)outcome.Result!.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture),
        var exception => "connection failure (" + exception.GetType().Name + ")",
    };

    public void Dispose()
    {
        foreach (var owned in _owned)
        {
            owned.Dispose();
        }
    }

    /// <summary>The pace's turn and the concurrency's place of one attempt, given back together when it ends.</summary>
    private sealed class BothLeases(RateLimitLease turn, RateLimitLease place) : RateLimitLease
    {
        public override bool IsAcquired => place.IsAcquired;

        public override IEnumerable<string> MetadataNames => [];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            metadata = null;
            return false;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                place.Dispose();
                turn.Dispose();
            }
        }
    }
}
