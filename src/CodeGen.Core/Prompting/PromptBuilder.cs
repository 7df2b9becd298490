using System.Globalization;
using System.Text;
using CodeGen.Core.Extraction;
using CodeGen.Core.Rows;

namespace CodeGen.Core.Prompting;

/// <summary>The messages for one row, or the reason the row cannot be sent.</summary>
public readonly struct PromptResult
{
    private PromptResult(ChatMessage[]? messages, string? instruction, RowError? error, string? language = null)
    {
        Messages = messages;
        Instruction = instruction;
        Error = error;
        Language = language;
    }

    public ChatMessage[]? Messages { get; }

    /// <summary>The row's instruction text (for previews in -WhatIf and progress).</summary>
    public string? Instruction { get; }

    public RowError? Error { get; }

    /// <summary>
    /// The row's language (-Language, fixed or from the row's column): the code block its code is taken from and what
    /// -Check parses it as. Null: none, the answer's code block says.
    /// </summary>
    public string? Language { get; }

    public bool IsSendable => Error is null;

    public static PromptResult Ok(ChatMessage[] messages, string instruction, string? language = null) => new(messages, instruction, null, language);

    public static PromptResult Fail(RowError error, string? instruction = null) => new(null, instruction, error);
}

/// <summary>
/// Turns a row into chat messages: the user's template (with <c>{column}</c> placeholders) or the default
/// prompt, plus an optional system prompt. Also applies the operator's row rules: the instruction column
/// must exist and hold text, and the output column must not already hold a value unless overwriting is allowed;
/// and reads the row's language (<see cref="RowLanguage"/>), whose columns must exist as a template's do.
/// </summary>
public sealed class PromptBuilder
{
    /// <summary>
    /// The most prompt text one request may carry: 32 MiB of UTF-8 (33,554,432 bytes), the system prompt and the row's
    /// message together. It is the request size Anthropic's Messages API accepts at most (32 MB), and several times what
    /// the largest context windows served (1 to 2 million tokens, a few megabytes of text) can take, so no model would
    /// answer a longer prompt: a row over it fails as <see cref="RowErrorKind.RequestTooLarge"/> before its request is built.
    /// </summary>
    public const int MaxPromptBytes = 32 * 1024 * 1024;

    private readonly string _inputKey;
    private readonly string _outputKey;
    private readonly bool _overwrite;
    private readonly PromptTemplate? _template;
    private readonly string? _systemPrompt;
    private readonly RowLanguage? _language;
    private readonly string _defaultPreamble;

    /// <summary>The default prompt's preamble by row language, for -Language '{column}' (the few languages a data set holds).</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> _preambles = new(StringComparer.Ordinal);

    /// <param name="language">-Language: a language, or <c>{column}</c> placeholders filled from each row (see <see cref="RowLanguage"/>).</param>
    /// <exception cref="FormatException"><paramref name="language"/> has a brace that opens or closes nothing.</exception>
    public PromptBuilder(string inputKey, string outputKey, bool overwrite, PromptTemplate? template, string? systemPrompt, string? language)
    {
        _inputKey = inputKey;
        _outputKey = outputKey;
        _overwrite = overwrite;
        _template = template;
        _systemPrompt = string.IsNullOrWhiteSpace(systemPrompt) ? null : systemPrompt;
        _language = RowLanguage.Parse(language);
        _defaultPreamble = DefaultPreamble(_language?.Fixed);
    }

    /// <summary>
    /// The default user message without the task. Written for this project: it asks for the complete code in
    /// exactly one fenced block, so the extractor has one unambiguous thing to take.
    /// </summary>
    public static string DefaultPreamble(string? language)
    {
        string what = string.IsNullOrWhiteSpace(language) ? "the code" : $"{language.Trim()} code";
        string fence = string.IsNullOrWhiteSpace(language) ? "a single fenced code block" : $"a single fenced code block tagged {LanguageNames.Normalize(language)}";
        var sb = new StringBuilder();
        sb.Append("You will get a programming task. Write ").Append(what).Append(" that carries it out.\n");
        sb.Append("Reply with the complete code in ").Append(fence)
          .Append(" and nothing else: no explanation before or after it, no usage example, and no tests unless the task asks for them. ");
        sb.Append("Where the task leaves a detail open, pick a sensible choice and say so in a short code comment.\n\n");
        sb.Append("Task:\n");
        return sb.ToString();
    }

    /// <summary>The default prompt for one instruction (what is sent when no template is given), for -Language's fixed language.</summary>
    public string DefaultPrompt(string instruction) => _defaultPreamble + instruction;

    /// <summary>The default prompt's preamble for a row's language.</summary>
    private string PreambleFor(string? language)
    {
        if (_language is not { IsPerRow: true })
        {
            return _defaultPreamble; // the fixed language's, or no language's
        }
        language ??= string.Empty; // a row whose column is empty: no language in particular
        if (_preambles.TryGetValue(language, out var preamble))
        {
            return preamble;
        }
        preamble = DefaultPreamble(language.Length == 0 ? null : language);
        if (_preambles.Count < 256)
        {
            _preambles.TryAdd(language, preamble);
        }
        return preamble;
    }

    /// <summary>
    /// What a repair request says after the conversation so far (the row's messages and the answer whose code does not
    /// parse): the parser's messages, and what to answer with.
    /// </summary>
    public static string RepairPrompt(string parserMessages, string? language)
        => $"This does not parse{(string.IsNullOrWhiteSpace(language) ? string.Empty : " as " + language)}: {parserMessages}. " +
           "Answer with the corrected code only, complete, in one fenced code block.";

    public PromptResult Build(IRowFields row, long rowNumber)
    {
        if (!row.TryGetField(_inputKey, out var instruction))
        {
            return PromptResult.Fail(RowError.Create(RowErrorKind.MissingInputColumn, rowNumber,
                $"the row has no '{_inputKey}' field."));
        }
        // An output field with text is data a rerun must not destroy; an empty one (a row that failed before) is
        // free to fill, so failed rows can simply be piped back in.
        if (!_overwrite && row.TryGetField(_outputKey, out var existing) && !string.IsNullOrWhiteSpace(existing))
        {
            return PromptResult.Fail(RowError.Create(RowErrorKind.OutputColumnExists, rowNumber,
                $"the row already has a '{_outputKey}' value."), instruction);
        }
        if (string.IsNullOrWhiteSpace(instruction))
        {
            return PromptResult.Fail(RowError.Create(RowErrorKind.EmptyInstruction, rowNumber,
                $"the '{_inputKey}' field is empty; no request was sent."), instruction);
        }

        string? language = null;
        if (_language is not null && !_language.TryResolve(row, out language, out var missingLanguage))
        {
            return PromptResult.Fail(RowError.Create(RowErrorKind.TemplateColumnMissing, rowNumber,
                $"-Language '{_language.Text}' uses '{{{missingLanguage}}}' but the row has no '{missingLanguage}' field."), instruction);
        }

        string user;
        if (_template is null)
        {
            string preamble = PreambleFor(language);
            if (Oversize(rowNumber, [new PromptPart(preamble, null), new PromptPart(instruction, _inputKey)]) is { } tooLarge)
            {
                return PromptResult.Fail(tooLarge, instruction);
            }
            user = preamble + instruction;
        }
        else
        {
            var parts = new List<PromptPart>();
            if (!_template.TryCollect(row, parts, out var missing))
            {
                return PromptResult.Fail(RowError.Create(RowErrorKind.TemplateColumnMissing, rowNumber,
                    $"the prompt template uses '{{{missing}}}' but the row has no '{missing}' field."), instruction);
            }
            if (Oversize(rowNumber, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(parts)) is { } tooLarge)
            {
                return PromptResult.Fail(tooLarge, instruction);
            }
            user = PromptPart.Concat(parts);
        }

        var messages = _systemPrompt is null
            ? new[] { ChatMessage.User(user) }
            : new[] { ChatMessage.System(_systemPrompt), ChatMessage.User(user) };
        return PromptResult.Ok(messages, instruction, language);
    }

    /// <summary>
    /// The error for a prompt over <see cref="MaxPromptBytes"/>, naming its largest field; null when it fits. Measured on
    /// the pieces, before they are joined: nothing is copied, and a short prompt is not even counted byte by byte.
    /// </summary>
    private RowError? Oversize(long rowNumber, ReadOnlySpan<PromptPart> parts)
    {
        long chars = _systemPrompt?.Length ?? 0;
        foreach (var part in parts)
        {
            chars += part.Text.Length;
        }
        if (chars * 3 <= MaxPromptBytes)
        {
            return null; // UTF-8 takes at most 3 bytes for a UTF-16 character
        }
        long bytes = _systemPrompt is null ? 0 : Encoding.UTF8.GetByteCount(_systemPrompt);
        string? largest = null;
        long largestBytes = 0;
        foreach (var part in parts)
        {
            long size = Encoding.UTF8.GetByteCount(part.Text);
            bytes += size;
            if (part.Field is not null && size > largestBytes)
            {
                (largest, largestBytes) = (part.Field, size);
            }
        }
        if (bytes <= MaxPromptBytes)
        {
            return null;
        }
        var culture = CultureInfo.InvariantCulture;
        string field = largest is null ? string.Empty : string.Format(culture, " (the '{0}' field {1:N0})", largest, largestBytes);
        return RowError.Create(RowErrorKind.RequestTooLarge, rowNumber, string.Format(culture,
            "the prompt is {0:N0} bytes{1}, over the {2:N0} bytes (32 MiB) a request may carry; no request was sent.", bytes, field, MaxPromptBytes));
    }
}

/// <summary>A piece of a user prompt: text of the prompt itself, or the value of a row's field (which <see cref="Field"/> names).</summary>
internal readonly record struct PromptPart(string Text, string? Field)
{
    /// <summary>The pieces as one string, copied once.</summary>
    public static string Concat(List<PromptPart> parts)
    {
        int length = 0;
        foreach (var part in parts)
        {
            length = checked(length + part.Text.Length);
        }
        return string.Create(length, parts, static (span, parts) =>
        {
            foreach (var part in parts)
            {
                part.Text.AsSpan().CopyTo(span);
                span = span[part.Text.Length..];
            }
        });
    }
}
