using System.Text.Json;
using CodeGen.Core.Llm;
using CodeGen.Core.Storage;

namespace CodeGen.Core.Costing;

/// <summary>
/// Prices from a file in the format of LiteLLM's <c>model_prices_and_context_window.json</c>: an object keyed by model
/// name, each entry with <c>input_cost_per_token</c> and <c>output_cost_per_token</c> (USD per token) and, where the
/// provider has them, <c>cache_read_input_token_cost</c>, <c>output_cost_per_reasoning_token</c>,
/// <c>input_cost_per_token_batches</c> and <c>output_cost_per_token_batches</c>. The file is the user's (CodeGen ships no
/// prices) and is read as untrusted: a malformed file or entry is an error that names the file, the place and the key.
/// </summary>
public static class PriceFile
{
    /// <summary>The largest price file read (LiteLLM's whole map is about 1 MB).</summary>
    public const long MaxBytes = 64L * 1024 * 1024;

    /// <summary>The prefixes LiteLLM puts before a model's name for a provider, tried after the name alone.</summary>
    private static string[] Prefixes(LlmProvider provider) => provider switch
    {
        LlmProvider.OpenAI => ["openai/"],
        LlmProvider.AzureOpenAI => ["azure/", "openai/"],
        LlmProvider.Anthropic => ["anthropic/"],
        _ => throw new ArgumentOutOfRangeException(nameof(provider), provider, "No price-file prefix is known for this provider."),
    };

    /// <summary>The price of <paramref name="model"/> in the file at <paramref name="path"/>.</summary>
    /// <exception cref="PriceException">The file cannot be read, is not such a file, has no entry for the model, or the entry's prices are not prices.</exception>
    public static ModelPrice Load(string path, string model, LlmProvider provider)
    {
        string name = Path.GetFileName(path);
        using (var document = Read(path))
        {
            var root = document.RootElement;
            var entry = Find(root, model, provider, out string key)
                ?? throw new PriceException($"The price file '{path}' has no prices for model '{model}'{Nearby(root, model)}. Add an entry for it, or give -Price @{{ Input = …; Output = … }}.", path);
            string source = $"{name}: {key}";
            if (entry.ValueKind != JsonValueKind.Object)
            {
                throw new PriceException($"The price file '{path}': the entry '{key}' is not an object of prices.", path);
            }
            decimal? PerMillion(string field, bool required = false)
            {
                if (!entry.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null)
                {
                    return required
                        ? throw new PriceException($"The price file '{path}': the entry '{key}' has no '{field}'.", path)
                        : null;
                }
                if (value.ValueKind != JsonValueKind.Number || !value.TryGetDecimal(out decimal perToken) || perToken < 0 || perToken > ModelPrice.MaxPerMillion / 1_000_000m)
                {
                    throw new PriceException($"The price file '{path}': '{key}'.'{field}' is {ErrorBody.Shown(value.GetRawText())}, which is not a price in USD per token.", path);
                }
                return perToken * 1_000_000m;
            }
            return new ModelPrice
            {
                Input = PerMillion("input_cost_per_token", required: true)!.Value,
                Output = PerMillion("output_cost_per_token", required: true)!.Value,
                CachedInput = PerMillion("cache_read_input_token_cost"),
                Reasoning = PerMillion("output_cost_per_reasoning_token"),
                BatchInput = PerMillion("input_cost_per_token_batches"),
                BatchOutput = PerMillion("output_cost_per_token_batches"),
                Source = source,
            };
        }
    }

    /// <summary>
    /// Checks that the file at <paramref name="path"/> can be read as a price map (a JSON object keyed by model name), before
    /// any model is looked up in it: what Set-CodeGenEndpoint -PriceFile checks, when the model may not be known yet.
    /// </summary>
    /// <exception cref="PriceException">The file cannot be read, or is not such a file.</exception>
    public static void Check(string path) => Read(path).Dispose();

    /// <summary>The file as a JSON object, or a <see cref="PriceException"/> naming the file and what is wrong with it.</summary>
    private static JsonDocument Read(string path)
    {
        byte[] bytes;
        try
        {
            // a link is the user's to make; a FIFO or a device would never end (or block the open itself)
            string target = new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? path;
            if (NativeFiles.FactsOf(target) is { IsRegularFile: false } facts)
            {
                throw new PriceException($"The price file '{path}' {facts.Describe()}: give a regular file.", path);
            }
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
            if (!file.CanSeek || file.Length > MaxBytes)
            {
                throw new PriceException($"The price file '{path}' is not a regular file of at most {MaxBytes / (1024 * 1024)} MB.", path);
            }
            bytes = new byte[file.Length];
            file.ReadExactly(bytes);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new PriceException($"Could not read the price file '{path}': {ex.Message}", path, ex);
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true, MaxDepth = 16 });
        }
        catch (JsonException ex)
        {
            throw new PriceException($"The price file '{path}' is not JSON: line {(ex.LineNumber ?? 0) + 1}, column {(ex.BytePositionInLine ?? 0) + 1}: {ex.Message.Split(" Path:")[0]}", path, ex);
        }
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            throw new PriceException($"The price file '{path}' is not a LiteLLM price map: it must be a JSON object keyed by model name.", path);
        }
        return document;
    }

    /// <summary>The model's entry: its name as given, in any case, then with the provider's prefixes.</summary>
    private static JsonElement? Find(JsonElement root, string model, LlmProvider provider, out string key)
    {
        foreach (string candidate in (IEnumerable<string>)[model, .. Prefixes(provider).Select(p => p + model)])
        {
            if (root.TryGetProperty(candidate, out var exact))
            {
                key = candidate;
                return exact;
            }
            foreach (var property in root.EnumerateObject())
            {
                if (string.Equals(property.Name, candidate, StringComparison.OrdinalIgnoreCase))
                {
                    key = property.Name;
                    return property.Value;
                }
            }
        }
        key = model;
        return null;
    }

    /// <summary>" (it has gpt-4o, gpt-4o-mini…)": the file's models that share the name's first part, to spot a typo.</summary>
    private static string Nearby(JsonElement root, string model)
    {
        string stem = model.Split('-', '/', '.')[0];
        var near = root.EnumerateObject().Select(p => p.Name)
            .Where(n => stem.Length > 0 && n.Contains(stem, StringComparison.OrdinalIgnoreCase))
            .Take(5).Select(n => ErrorBody.Shown(n)).ToList();
        return near.Count == 0 ? string.Empty : $" (it has {string.Join(", ", near)}{(near.Count == 5 ? "…" : string.Empty)})";
    }
}

/// <summary>Prices that cannot be used: a price file that cannot be read or has no usable entry, or a -Price that is not one.</summary>
public sealed class PriceException : Exception
{
    public PriceException(string message, string? path = null, Exception? inner = null) : base(message, inner) => Path = path;

    /// <summary>The price file, when the problem is in one.</summary>
    public string? Path { get; }
}
