using CodeGen.Core.Llm;
using CodeGen.Core.Prompting;
using Microsoft.ML.Tokenizers;

namespace CodeGen.Core.Costing;

/// <summary>
/// Counts the prompt tokens of a request on this machine, the way the provider counts them where its tokenizer is
/// public: OpenAI's models (and Azure OpenAI's, named by model) with <c>o200k_base</c> or <c>cl100k_base</c>, plus the
/// tokens chat completions adds around each message. Any other model's tokens are estimated with <c>o200k_base</c>
/// (open models' tokenizers differ from it by some per cent), and <see cref="IsExact"/> says so.
/// </summary>
public sealed class TokenCounter
{
    /// <summary>Tokens chat completions adds for each message (its start, its role's end and its end).</summary>
    public const int TokensPerMessage = 3;

    /// <summary>Tokens that prime the answer (<c>&lt;|start|&gt;assistant&lt;|message|&gt;</c>), once per request.</summary>
    public const int TokensPerReply = 3;

    private static readonly Lazy<Tokenizer> O200k = new(() => TiktokenTokenizer.CreateForEncoding("o200k_base"));
    private static readonly Lazy<Tokenizer> Cl100k = new(() => TiktokenTokenizer.CreateForEncoding("cl100k_base"));

    private readonly Tokenizer _tokenizer;

    private TokenCounter(string encoding, bool exact, Tokenizer tokenizer)
    {
        Encoding = encoding;
        IsExact = exact;
        _tokenizer = tokenizer;
    }

    /// <summary>The tokenizer's encoding: <c>o200k_base</c> or <c>cl100k_base</c>.</summary>
    public string Encoding { get; }

    /// <summary>True when the model is one whose tokenizer this is (an OpenAI model); false for an estimate.</summary>
    public bool IsExact { get; }

    /// <summary>How the counts were made, for people ("o200k_base tokenizer", "estimate (o200k_base tokenizer)").</summary>
    public string Description => IsExact ? $"{Encoding} tokenizer" : $"estimate ({Encoding} tokenizer; the model's own tokenizer is not known here)";

    /// <summary>
    /// The counter for a model: <c>o200k_base</c> for gpt-4o, gpt-4.1, gpt-5, the o-series and codex models, <c>cl100k_base</c>
    /// for gpt-4 and gpt-3.5, an estimate with <c>o200k_base</c> for any other. Anthropic's models are never counted exactly
    /// here (its tokenizer is not public; <see cref="CostEstimator"/> asks its count_tokens endpoint).
    /// </summary>
    public static TokenCounter For(string model, LlmProvider provider)
    {
        string name = Bare(model);
        if (provider != LlmProvider.Anthropic)
        {
            if (IsO200k(name))
            {
                return new TokenCounter("o200k_base", exact: true, O200k.Value);
            }
            if (name.StartsWith("gpt-4", StringComparison.OrdinalIgnoreCase) || name.StartsWith("gpt-3.5", StringComparison.OrdinalIgnoreCase)
                || name.StartsWith("gpt-35", StringComparison.OrdinalIgnoreCase))
            {
                return new TokenCounter("cl100k_base", exact: true, Cl100k.Value);
            }
        }
        return new TokenCounter("o200k_base", exact: false, O200k.Value);
    }

    /// <summary>The tokens of a text alone, without any framing.</summary>
    public long CountText(string text) => text.Length == 0 ? 0 : _tokenizer.CountTokens(text);

    /// <summary>
    /// The prompt tokens of a request with these messages, as chat completions counts them: each message's role and
    /// content plus <see cref="TokensPerMessage"/>, and <see cref="TokensPerReply"/> once.
    /// </summary>
    public long Count(IReadOnlyList<ChatMessage> messages)
    {
        long tokens = TokensPerReply;
        for (int i = 0; i < messages.Count; i++)
        {
            tokens += TokensPerMessage + CountText(messages[i].Role) + CountText(messages[i].Content);
        }
        return tokens;
    }

    /// <summary>The model's name without a provider's prefix ("openai/gpt-4o", "azure/gpt-4o-mini").</summary>
    private static string Bare(string model)
    {
        int slash = model.LastIndexOf('/');
        return slash >= 0 ? model[(slash + 1)..] : model;
    }

    private static bool IsO200k(string name)
    {
        if (name.StartsWith("gpt-4o", StringComparison.OrdinalIgnoreCase) || name.StartsWith("gpt-4.1", StringComparison.OrdinalIgnoreCase)
            || name.StartsWith("gpt-4.5", StringComparison.OrdinalIgnoreCase) || name.StartsWith("gpt-5", StringComparison.OrdinalIgnoreCase)
            || name.StartsWith("chatgpt-4o", StringComparison.OrdinalIgnoreCase) || name.StartsWith("codex", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }
        // the o-series: o1, o3, o4-mini and what follows them ("o1-preview", "o3-pro", "o4-mini-2025-04-16")
        return name.Length >= 2 && (name[0] is 'o' or 'O') && char.IsAsciiDigit(name[1]) && (name.Length == 2 || name[2] == '-' || char.IsAsciiDigit(name[2]));
    }
}
