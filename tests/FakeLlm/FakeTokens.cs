using Microsoft.ML.Tokenizers;

namespace FakeLlm;

/// <summary>
/// The prompt tokens the fake reports, counted as the providers count them where that is known: OpenAI's models with
/// their own tokenizer (<c>o200k_base</c> for gpt-4o, gpt-4.1, gpt-5, the o-series and codex; <c>cl100k_base</c> for gpt-4
/// and gpt-3.5) and chat completions' framing: 3 tokens a message, its role and content, and 3 that prime the reply. Any
/// other model (Anthropic's, the benchmarks' made-up names): the characters of the whole prompt / 4, which is cheap.
/// Kept apart from CodeGen's own counter on purpose: a test that compares the two compares two countings.
/// </summary>
public static class FakeTokens
{
    private const int PerMessage = 3;
    private const int PerReply = 3;

    private static readonly Lazy<Tokenizer> O200k = new(() => TiktokenTokenizer.CreateForEncoding("o200k_base"));
    private static readonly Lazy<Tokenizer> Cl100k = new(() => TiktokenTokenizer.CreateForEncoding("cl100k_base"));

    /// <summary>
    /// Loads both tokenizers now (tens of MB that stay for the life of the process), for a test that measures the heap
    /// and must not count their first use by a test alongside it.
    /// </summary>
    public static void Preload() => _ = (O200k.Value, Cl100k.Value);

    /// <summary>The tokenizer of an OpenAI model, or null for any other model.</summary>
    internal static Tokenizer? TokenizerOf(string model)
    {
        string name = model[(model.LastIndexOf('/') + 1)..].ToLowerInvariant();
        if (name.StartsWith("gpt-4o") || name.StartsWith("gpt-4.1") || name.StartsWith("gpt-4.5") || name.StartsWith("gpt-5") || name.StartsWith("codex")
            || name.StartsWith("chatgpt-4o")
            || (name.Length >= 2 && name[0] == 'o' && name[1] is '1' or '3' or '4' && (name.Length == 2 || name[2] == '-')))
        {
            return O200k.Value;
        }
        return name.StartsWith("gpt-4") || name.StartsWith("gpt-3.5") || name.StartsWith("gpt-35") ? Cl100k.Value : null;
    }

    /// <summary>The prompt tokens of a request whose messages are these (role, text) pairs, for <paramref name="model"/>.</summary>
    internal static int Prompt(string model, IEnumerable<(string Role, string Text)> messages)
    {
        var tokenizer = TokenizerOf(model);
        long tokens = tokenizer is null ? 0 : PerReply;
        long characters = 0;
        foreach (var (role, text) in messages)
        {
            if (tokenizer is null)
            {
                characters += text.Length;
            }
            else
            {
                tokens += PerMessage + Count(tokenizer, role) + Count(tokenizer, text);
            }
        }
        return (int)Math.Clamp(tokenizer is null ? characters / 4 : tokens, 1, int.MaxValue);
    }

    private static int Count(Tokenizer tokenizer, string text) => text.Length == 0 ? 0 : tokenizer.CountTokens(text);
}
