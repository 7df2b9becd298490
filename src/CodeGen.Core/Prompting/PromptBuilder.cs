using System.Text;
using CodeGen.Core.Extraction;
using CodeGen.Core.Rows;

namespace CodeGen.Core.Prompting;

/// <summary>The messages for one row, or the reason the row cannot be sent.</summary>
public readonly struct PromptResult
{
    private PromptResult(ChatMessage[]? messages, string? instruction, RowError? error)
    {
        Messages = messages;
        Instruction = instruction;
        Error = error;
    }

    public ChatMessage[]? Messages { get; }

    /// <summary>The row's instruction text (for previews in -WhatIf and progress).</summary>
    public string? Instruction { get; }

    public RowError? Error { get; }

    public bool IsSendable => Error is null;

    public static PromptResult Ok(ChatMessage[] messages, string instruction) => new(messages, instruction, null);

    public static PromptResult Fail(RowError error, string? instruction = null) => new(null, instruction, error);
}

/// <summary>
/// Turns a row into chat messages: the user's template (with <c>{column}</c> placeholders) or the default
/// prompt, plus an optional system prompt. Also applies the operator's row rules: the instruction column
/// must exist and hold text, and the output column must not already hold a value unless overwriting is allowed.
/// </summary>
public sealed class PromptBuilder
{
    private readonly string _inputKey;
    private readonly string _outputKey;
    private readonly bool _overwrite;
    private readonly PromptTemplate? _template;
    private readonly string? _systemPrompt;
    private readonly string _defaultPreamble;

    public PromptBuilder(string inputKey, string outputKey, bool overwrite, PromptTemplate? template, string? systemPrompt, string? language)
    {
        _inputKey = inputKey;
        _outputKey = outputKey;
        _overwrite = overwrite;
        _template = template;
        _systemPrompt = string.IsNullOrWhiteSpace(systemPrompt) ? null : systemPrompt;
        _defaultPreamble = DefaultPreamble(language);
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

    /// <summary>The default prompt for one instruction (what is sent when no template is given).</summary>
    public string DefaultPrompt(string instruction) => _defaultPreamble + instruction;

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

        string user;
        if (_template is null)
        {
            user = DefaultPrompt(instruction);
        }
        else if (!_template.TryRender(row, out user, out var missing))
        {
            return PromptResult.Fail(RowError.Create(RowErrorKind.TemplateColumnMissing, rowNumber,
                $"the prompt template uses '{{{missing}}}' but the row has no '{missing}' field."), instruction);
        }

        var messages = _systemPrompt is null
            ? new[] { ChatMessage.User(user) }
            : new[] { ChatMessage.System(_systemPrompt), ChatMessage.User(user) };
        return PromptResult.Ok(messages, instruction);
    }
}
