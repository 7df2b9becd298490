using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace CodeGen.Core.Llm;

/// <summary>
/// How one server wants the optional request fields: under which name each goes on the wire, and which it
/// refuses (left out). Immutable: a run that learns something new swaps in a new instance.
/// </summary>
/// <remarks>
/// Each API starts from its own names (<see cref="WireApi.InitialRules"/>): OpenAI and Azure OpenAI take the token limit
/// of chat completions as <c>max_completion_tokens</c> for every model they serve (their reasoning models refuse
/// <c>max_tokens</c>), the Responses API as <c>max_output_tokens</c>. What a model refuses beyond that (temperature on a
/// reasoning model, reasoning_effort on an older one, a field Anthropic's API version does not know) is learned from the
/// server's 400 answers (<see cref="Adapt"/>).
/// </remarks>
public sealed partial class WireRules
{
    /// <summary>Every field under its own name.</summary>
    public static readonly WireRules AsGiven = new(new Dictionary<string, string?>(StringComparer.Ordinal), adapted: []);

    /// <summary>OpenAI's and Azure OpenAI's: the token limit as max_completion_tokens.</summary>
    public static readonly WireRules OpenAI = AsGiven.With(ChatParameters.MaxTokensField, ChatParameters.MaxCompletionTokensField, adapted: false);

    // field as CodeGen names it -> name on the wire, or null when left out; absent: its own name
    private readonly Dictionary<string, string?> _names;
    private readonly HashSet<string> _adapted;

    private WireRules(Dictionary<string, string?> names, HashSet<string> adapted)
    {
        _names = names;
        _adapted = adapted;
    }

    /// <summary>OpenAI's own API and Azure OpenAI resources (also when reached with the OpenAI provider through Azure's /openai/v1 API).</summary>
    internal static bool ServesOpenAIModels(string host)
        => host.Equals("api.openai.com", StringComparison.OrdinalIgnoreCase)
            || host.EndsWith(".openai.azure.com", StringComparison.OrdinalIgnoreCase)
            || host.EndsWith(".cognitiveservices.azure.com", StringComparison.OrdinalIgnoreCase);

    /// <summary>These rules with <paramref name="field"/> sent as <paramref name="wireName"/> (null: left out), as an API names it from the start.</summary>
    internal WireRules Named(string field, string? wireName) => With(field, wireName, adapted: false);

    // wire names, encoded once per rules (every request writes them)
    private readonly ConcurrentDictionary<string, JsonEncodedText?> _encoded = new(StringComparer.Ordinal);

    /// <summary>The wire name of a field, or null when the server refuses it.</summary>
    public string? NameOf(string field) => _names.TryGetValue(field, out string? name) ? name : field;

    /// <summary><see cref="NameOf"/>, encoded for a JSON writer.</summary>
    internal JsonEncodedText? EncodedNameOf(string field)
        => _encoded.GetOrAdd(field, static (f, rules) => rules.NameOf(f) is { } name ? JsonEncodedText.Encode(name) : null, this);

    /// <summary>What differs from sending every field as given ("max_tokens as max_completion_tokens; temperature left out"), or "".</summary>
    public string Describe() => string.Join("; ", _names.OrderBy(p => p.Key, StringComparer.Ordinal)
        .Select(p => p.Value is null ? $"{p.Key} left out" : $"{p.Key} as {p.Value}"));

    public override string ToString() => Describe();

    private WireRules With(string field, string? wireName, bool adapted)
    {
        var names = new Dictionary<string, string?>(_names, StringComparer.Ordinal) { [field] = wireName };
        var learned = new HashSet<string>(_adapted, StringComparer.Ordinal);
        if (adapted)
        {
            learned.Add(field);
        }
        return new WireRules(names, learned);
    }

    /// <summary>
    /// Reads a refusal: a 400 whose <c>param</c> names a field that a request written with <paramref name="sentWith"/>
    /// carried, and says the field (or its value) is unsupported, as OpenAI does for reasoning models.
    /// </summary>
    /// <returns>
    /// <see cref="Adaptation.None"/> when the refusal is not about such a field (the row fails as usual);
    /// <see cref="Adaptation.AlreadyAdapted"/> when <paramref name="current"/> no longer sends the field that way (another
    /// request learned it first: send again); <see cref="Adaptation.Adapted"/> with the new rules and a notice that
    /// says what changed and why: an unsupported parameter is renamed as the server asks or left out, an unsupported
    /// sampling value (temperature, top_p) is left out; <see cref="Adaptation.RefusedForEveryRow"/> for any other
    /// unsupported value.
    /// </returns>
    public static Adaptation Adapt(WireRules current, WireRules sentWith, ChatParameters parameters, int? status, string? param, string? code, string? message,
        out WireRules adapted, out string? notice)
    {
        adapted = current;
        notice = null;
        if (status != 400 || string.IsNullOrEmpty(param) || Unsupported(code, message) is not { } what)
        {
            return Adaptation.None;
        }
        string wireName = TopLevel(param);
        string? field = parameters.Fields.FirstOrDefault(f => sentWith.NameOf(f) == wireName);
        if (field is null)
        {
            return Adaptation.None; // the server names something this request did not carry
        }
        if (current.NameOf(field) != wireName)
        {
            return Adaptation.AlreadyAdapted;
        }
        if (what == Refused.Value && !SamplingFields.Contains(field))
        {
            // A value the user chose (a -ReasoningEffort the model does not take, an -AdditionalBody value): leaving
            // the field out would quietly run every row some other way. Every request carries it, so every row
            // would be refused the same way: the run stops and says why.
            return Adaptation.RefusedForEveryRow;
        }

        string quoted = Quote(message);
        string? suggested = Suggestion(message);
        if (suggested is not null && suggested != wireName && !current._adapted.Contains(field) && !AdditionalBody.IsReserved(suggested)
            && !parameters.Fields.Any(f => current.NameOf(f) == suggested))
        {
            adapted = current.With(field, suggested, adapted: true);
            notice = $"The server refused '{wireName}'{quoted}: the rest of this run sends it as '{suggested}', and the refused rows are sent again.";
        }
        else
        {
            adapted = current.With(field, null, adapted: true);
            notice = $"The server refused '{wireName}'{quoted}: the rest of this run leaves it out, and the refused rows are sent again.";
        }
        return Adaptation.Adapted;
    }

    /// <summary>Sampling settings whose value a model may not take but whose default it has: leaving them out still answers the row as asked.</summary>
    private static readonly HashSet<string> SamplingFields = new(StringComparer.Ordinal)
    {
        ChatParameters.TemperatureField, "top_p", "presence_penalty", "frequency_penalty",
    };

    private enum Refused { Parameter, Value }

    /// <summary>Whether a refusal says a field is unsupported (OpenAI's codes or wording, Anthropic's "Extra inputs are not permitted"), and which way.</summary>
    private static Refused? Unsupported(string? code, string? message)
    {
        if (code == "unsupported_parameter" || (message?.StartsWith("Unsupported parameter", StringComparison.OrdinalIgnoreCase) ?? false)
            || (message?.EndsWith(MessagesApi.ExtraInputs, StringComparison.OrdinalIgnoreCase) ?? false))
        {
            return Refused.Parameter;
        }
        if (code == "unsupported_value" || (message?.StartsWith("Unsupported value", StringComparison.OrdinalIgnoreCase) ?? false))
        {
            return Refused.Value;
        }
        return null;
    }

    /// <summary>"temperature" of "temperature", "chat_template_kwargs" of "chat_template_kwargs.enable_thinking" or "stop[0]".</summary>
    private static string TopLevel(string param)
    {
        int end = param.IndexOfAny(['.', '[']);
        return end > 0 ? param[..end] : param;
    }

    /// <summary>The field a refusal asks for instead ("Use 'max_completion_tokens' instead."), when it names one.</summary>
    private static string? Suggestion(string? message)
        => message is not null && SuggestionPattern().Match(message) is { Success: true } match ? match.Groups[1].Value : null;

    private static string Quote(string? message)
    {
        if (string.IsNullOrWhiteSpace(message))
        {
            return string.Empty;
        }
        string text = ErrorBody.Shown(message.ReplaceLineEndings(" ").Trim());
        return $" (\"{text}\")";
    }

    [GeneratedRegex(@"\bUse '([A-Za-z][A-Za-z0-9_]{0,63})' instead", RegexOptions.CultureInvariant)]
    private static partial Regex SuggestionPattern();
}

/// <summary>What <see cref="WireRules.Adapt"/> made of a refusal.</summary>
public enum Adaptation
{
    /// <summary>Not a refused field: the answer stands.</summary>
    None,
    /// <summary>The field is already sent another way: send the request again.</summary>
    AlreadyAdapted,
    /// <summary>New rules were made: send the request again with them.</summary>
    Adapted,
    /// <summary>The model refuses a value the user chose for a field every request carries: stop the run.</summary>
    RefusedForEveryRow,
}
