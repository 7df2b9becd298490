using System.Globalization;
using System.Text.Json;
using CodeGen.Core.Llm;
using CodeGen.Core.Prompting;
using CodeGen.Core.Rows;
using CodeGen.Core.Running;

namespace CodeGen.Core.Costing;

/// <summary>
/// What a run would cost, before it is paid: each row's requests are built exactly as a run builds them and their
/// prompt tokens counted (<see cref="TokenCounter"/>; Anthropic's own count_tokens for Anthropic's models), in one pass
/// over the rows and bounded memory (only the samples are kept). Nothing is sent but the free counting calls and, when
/// asked, the sample rows run for real to measure how long answers are.
/// </summary>
public sealed class CostEstimator
{
    /// <summary>Rows whose prompts Anthropic counts one by one; more rows are counted on a random sample this big.</summary>
    public const int ProviderCountSample = 200;

    private readonly GenerationOptions _options;
    private readonly LlmEndpoint _endpoint;
    private readonly PromptBuilder _prompts;
    private readonly TokenCounter _counter;
    private readonly Reservoir<ChatMessage[]> _countSample;
    private readonly Reservoir<PreparedRow> _runSample;
    private long _nextRowNumber;
    private long _rows;
    private long _localTokens;
    private readonly List<RowError> _unsendable = [];
    private long _unsendableCount;

    /// <param name="sampleRows">Rows to run for real (-SampleRows), chosen at random among all; 0 for none.</param>
    public CostEstimator(GenerationOptions options, LlmEndpoint endpoint, int sampleRows = 0)
    {
        _options = options;
        _endpoint = endpoint;
        _prompts = new PromptBuilder(options.InputKey, options.OutputKey, options.Overwrite, options.Template, options.SystemPrompt, options.Language);
        _counter = TokenCounter.For(endpoint.Model, endpoint.Provider);
        _countSample = new Reservoir<ChatMessage[]>(UsesProviderCount ? ProviderCountSample : 0, seed: 1);
        _runSample = new Reservoir<PreparedRow>(sampleRows, seed: 2);
    }

    /// <summary>Anthropic's models are counted by Anthropic (its tokenizer is not public).</summary>
    public bool UsesProviderCount => _endpoint.Api.Api == LlmApi.Messages;

    /// <summary>Rows a run would refuse before sending them (no instruction column, an output that has the column...), the first few of them.</summary>
    public IReadOnlyList<RowError> Unsendable => _unsendable;

    /// <summary>Rows a run would send, so far.</summary>
    public long Rows => _rows;

    /// <summary>How many rows a run would refuse before sending them.</summary>
    public long UnsendableCount => _unsendableCount;

    /// <summary>Builds a row's request as a run would and counts its prompt tokens.</summary>
    public void Add(IRowFields row)
    {
        long rowNumber = ++_nextRowNumber;
        var prompt = _prompts.Build(row, rowNumber);
        if (!prompt.IsSendable)
        {
            if (++_unsendableCount <= 10)
            {
                _unsendable.Add(prompt.Error!);
            }
            return;
        }
        var messages = prompt.Messages!;
        _rows++;
        _localTokens += _counter.Count(messages);
        _countSample.Offer(messages);
        _runSample.Offer(new PreparedRow(rowNumber, prompt));
    }

    /// <summary>The rows chosen to run for real (-SampleRows), in input order.</summary>
    public IReadOnlyList<PreparedRow> SampleRows => _runSample.Items.OrderBy(r => r.RowNumber).ToList();

    /// <summary>
    /// The estimate: prompt tokens (counted by Anthropic through <paramref name="calls"/> when the model is Anthropic's),
    /// the token limit's ceiling, what the sample's answers measured (<paramref name="sample"/>), and the costs at
    /// <paramref name="price"/> (null: tokens only).
    /// </summary>
    /// <param name="calls">The endpoint's API calls, for Anthropic's count_tokens; null: not asked (the prompt tokens of Anthropic's models are then an estimate).</param>
    public async Task<CostEstimate> EstimateAsync(ModelPrice? price, bool batch, SampleUsage? sample, ApiCalls? calls, int maxConcurrency,
        CancellationToken cancellationToken)
    {
        long promptTokens = _localTokens;
        // the Responses API frames a request its own way: its count may differ from chat completions' by a few tokens
        string framing = _endpoint.Api.Api == LlmApi.Responses && _counter.IsExact ? " with chat completions' framing" : string.Empty;
        string counting = _counter.Description + framing + (_rows > 0 ? ", every row" : string.Empty);
        string? countProblem = null;
        if (UsesProviderCount && _rows > 0)
        {
            if (calls is null)
            {
                counting = $"estimate ({_counter.Encoding} tokenizer; Anthropic's count_tokens was not asked), every row";
            }
            else
            {
                try
                {
                    (promptTokens, counting) = await CountWithProviderAsync(calls, maxConcurrency, cancellationToken).ConfigureAwait(false);
                }
                catch (ApiCallException ex) when (ex.StatusCode is 404 or 405)
                {
                    // a server that speaks the Messages API without count_tokens (a proxy, a local server)
                    countProblem = ex.Message;
                    counting = $"estimate ({_counter.Encoding} tokenizer; Anthropic's count_tokens could not be used), every row";
                }
            }
        }

        int? tokenLimit = _options.Parameters.MaxTokens ?? _endpoint.Api.DefaultMaxTokens;
        long? maxCompletion = tokenLimit is { } limit ? _rows * limit : null;
        long? estimatedCompletion = null;
        long? estimatedReasoning = null;
        if (sample is { Answered: > 0 } measured)
        {
            estimatedCompletion = Scale(measured.Measured.CompletionTokens, measured.Answered, _rows);
            estimatedReasoning = Scale(measured.Measured.ReasoningTokens ?? 0, measured.Answered, _rows);
            if (maxCompletion is { } ceiling)
            {
                estimatedCompletion = Math.Min(estimatedCompletion.Value, ceiling);
                estimatedReasoning = Math.Min(estimatedReasoning.Value, estimatedCompletion.Value);
            }
        }

        var estimate = new CostEstimate
        {
            Model = _endpoint.Model,
            Api = _endpoint.Api.DisplayName,
            Batch = batch,
            Rows = _rows,
            Unsendable = _unsendableCount,
            PromptTokens = promptTokens,
            TokenCounting = counting,
            CountProblem = countProblem,
            MaxCompletionTokens = maxCompletion,
            EstimatedCompletionTokens = estimatedCompletion,
            EstimatedReasoningTokens = estimatedReasoning,
            SampleRows = sample?.Rows ?? 0,
            SampleAnswered = sample?.Answered ?? 0,
            SampleReused = sample?.Reused ?? 0,
        };
        if (price is null)
        {
            return estimate;
        }
        var input = price.CostOf(promptTokens, 0, batch: batch);
        Cost? output = estimatedCompletion is { } completion
            ? price.CostOf(0, completion, reasoningTokens: estimatedReasoning ?? 0, batch: batch)
            : maxCompletion is { } most ? price.CostOf(0, most, batch: batch) : null;
        return estimate with
        {
            Price = price.Source,
            Currency = ModelPrice.Currency,
            InputCost = input.Input,
            OutputCost = output?.Output,
            TotalCost = output is { } o ? input.Input + o.Output : null,
            OutputCostBasis = estimatedCompletion is not null
                ? string.Format(CultureInfo.InvariantCulture, "measured on {0} sample rows", sample!.Answered)
                : maxCompletion is not null ? string.Format(CultureInfo.InvariantCulture, "at most: every answer uses its {0}-token limit", tokenLimit) : null,
            SampleCost = sample is { Answered: > 0 } s ? price.CostOf(s.Paid.PromptTokens, s.Paid.CompletionTokens, s.Paid.CachedTokens ?? 0, s.Paid.ReasoningTokens ?? 0).Total : null,
        };
    }

    /// <summary>Anthropic's count of every row, or of a random sample scaled to the rest by this machine's counts.</summary>
    private async Task<(long Tokens, string Counting)> CountWithProviderAsync(ApiCalls calls, int maxConcurrency, CancellationToken cancellationToken)
    {
        var sample = _countSample.Items;
        var counts = new long[sample.Count];
        using var gate = new SemaphoreSlim(Math.Max(1, maxConcurrency));
        await Task.WhenAll(sample.Select(async (messages, i) =>
        {
            await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                counts[i] = await CountAsync(calls, messages, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                gate.Release();
            }
        })).ConfigureAwait(false);
        long provider = counts.Sum();
        if (sample.Count == _rows)
        {
            return (provider, "Anthropic count_tokens, every row");
        }
        long local = sample.Sum(m => _counter.Count(m));
        long scaled = local == 0 ? provider : (long)Math.Round((double)provider * _localTokens / local);
        return (scaled, string.Format(CultureInfo.InvariantCulture,
            "Anthropic count_tokens on a random sample of {0:N0} of {1:N0} rows, scaled to the rest by their {2} counts", sample.Count, _rows, _counter.Encoding));
    }

    private async Task<long> CountAsync(ApiCalls calls, ChatMessage[] messages, CancellationToken cancellationToken)
    {
        const string what = "count the prompt's tokens";
        var content = new ByteArrayContent(MessagesApi.CountTokensBody(_endpoint.Model, messages));
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var document = await calls.SendAsync(HttpMethod.Post, "messages/count_tokens", content, what, cancellationToken).ConfigureAwait(false);
        var root = document.RootElement;
        if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("input_tokens", out var tokens)
            && tokens.ValueKind == JsonValueKind.Number && tokens.TryGetInt64(out long count) && count >= 0 && count <= WireApi.MaxTokenCount)
        {
            return count;
        }
        throw new ApiCallException(ApiCallException.TokenCountFailed,
            $"Could not {what} at {ErrorBody.Display(_endpoint.ApiUri("messages/count_tokens"))}: the answer has no 'input_tokens' count ({ErrorBody.Shown(calls.Redact(root.GetRawText()))}).");
    }

    private static long Scale(long measured, long sampled, long rows) => (long)Math.Round((double)measured * rows / sampled);

    /// <summary>A uniform random sample of at most <c>size</c> items of a stream (reservoir sampling), the same one on every run of the same input.</summary>
    private sealed class Reservoir<T>(int size, int seed)
    {
        private readonly List<T> _items = [];
        private readonly Random _random = new(seed);
        private long _seen;

        public IReadOnlyList<T> Items => _items;

        public void Offer(T item)
        {
            if (size <= 0)
            {
                return;
            }
            _seen++;
            if (_items.Count < size)
            {
                _items.Add(item);
            }
            else if (_random.NextInt64(_seen) is var slot && slot < size)
            {
                _items[(int)slot] = item;
            }
        }
    }
}

/// <summary>
/// What the sample rows' answers used (-SampleRows). Every answer with token counts measures the answers (<see cref="Measured"/>),
/// whether it was paid for now or read from the response cache; only those paid for now make the sample's cost (<see cref="Paid"/>).
/// </summary>
public sealed record SampleUsage(int Rows, int Answered, TokenUsage Measured, int Reused, TokenUsage Paid)
{
    /// <summary>The sample's usage from the answers to its <paramref name="rows"/> rows (a failed row, or one answered without token counts, measures nothing).</summary>
    public static SampleUsage Of(int rows, IEnumerable<ChatCallResult> results)
    {
        int answered = 0, reused = 0;
        TokenUsage measured = default, paid = default;
        foreach (var result in results)
        {
            if (result.Answer is not { Usage: { } usage })
            {
                continue;
            }
            answered++;
            measured = Add(measured, usage);
            if (result.FromCache)
            {
                reused++;
            }
            else
            {
                paid = Add(paid, usage);
            }
        }
        return new SampleUsage(rows, answered, measured, reused, paid);
    }

    private static TokenUsage Add(TokenUsage sum, TokenUsage usage) => new(sum.PromptTokens + usage.PromptTokens, sum.CompletionTokens + usage.CompletionTokens,
        sum.TotalTokens + usage.TotalTokens, (sum.ReasoningTokens ?? 0) + (usage.ReasoningTokens ?? 0), (sum.CachedTokens ?? 0) + (usage.CachedTokens ?? 0));
}

/// <summary>What a run would cost: Measure-CodeGenCost's answer.</summary>
public sealed record CostEstimate
{
    public required string Model { get; init; }

    /// <summary>The API the requests would go to ("chat completions", "Anthropic's Messages API"...).</summary>
    public required string Api { get; init; }

    /// <summary>The run would go through the provider's batch API (its prices).</summary>
    public bool Batch { get; init; }

    /// <summary>Rows a run would send.</summary>
    public long Rows { get; init; }

    /// <summary>Rows a run would refuse before sending (no instruction column...): not counted.</summary>
    public long Unsendable { get; init; }

    public long PromptTokens { get; init; }

    /// <summary>How <see cref="PromptTokens"/> were counted.</summary>
    public required string TokenCounting { get; init; }

    /// <summary>Why the provider's own count could not be used (its count_tokens not served), when the tokens were estimated instead.</summary>
    public string? CountProblem { get; init; }

    /// <summary>Rows × the token limit in force (-MaxTokens, or the API's default); null when no limit is sent.</summary>
    public long? MaxCompletionTokens { get; init; }

    /// <summary>Completion tokens of all rows, from the sample rows' answers (-SampleRows); null without a sample.</summary>
    public long? EstimatedCompletionTokens { get; init; }

    /// <summary>The reasoning tokens among <see cref="EstimatedCompletionTokens"/>.</summary>
    public long? EstimatedReasoningTokens { get; init; }

    /// <summary>Rows run for real (-SampleRows), and how many of them were answered.</summary>
    public int SampleRows { get; init; }

    public int SampleAnswered { get; init; }

    /// <summary>Sample rows answered from the response cache (-CachePath): measured, and not paid for again.</summary>
    public int SampleReused { get; init; }

    /// <summary>Where the prices come from; null when none was given (the costs are null).</summary>
    public string? Price { get; init; }

    public decimal? InputCost { get; init; }

    /// <summary>The completion tokens' cost: from the sample when there was one, else at the token limit (a ceiling); <see cref="OutputCostBasis"/> says which.</summary>
    public decimal? OutputCost { get; init; }

    public decimal? TotalCost { get; init; }

    public string? OutputCostBasis { get; init; }

    /// <summary>What the sample rows cost (already paid): those answered from the response cache cost nothing (<see cref="SampleReused"/>).</summary>
    public decimal? SampleCost { get; init; }

    public string? Currency { get; init; }
}
