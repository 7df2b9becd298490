using System.Collections;
using System.Management.Automation;
using CodeGen.Core.Llm;
using CodeGen.Core.Running;

namespace CodeGen.Commands.Support;

/// <summary>
/// The parameters that say how a row becomes a prompt and an answer becomes the code column, declared once for
/// every command that has them (Invoke-CodeInstructionToCode, Measure-CodeGenCost, Export-CodeGenBatch,
/// Import-CodeGenBatchResult), which offer them as a parameter group (<see cref="ParameterGroups"/>).
/// </summary>
public class PromptParameters
{
    /// <summary>Overwrite the output column when a row already has it (and, where the command writes a file, replace it).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ColumnCompleter))]
    public string InputKey { get; set; } = GenerationOptions.DefaultInputKey;

    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(OutputKeyCompleter))]
    public string OutputKey { get; set; } = GenerationOptions.DefaultOutputKey;

    /// <summary>The user message, with {column} placeholders; {{ and }} are literal braces.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? PromptTemplate { get; set; }

    /// <summary>
    /// The language to ask for (default prompt), to prefer among several code blocks and to check the code as; or
    /// <c>{column}</c> placeholders that name each row's.
    /// </summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [PlaceholderTransformation]
    [ArgumentCompleter(typeof(LanguageCompleter))]
    public string? Language { get; set; }

    /// <summary>
    /// The generation options these parameters give, or a terminating error for a template that does not parse or
    /// a request body that cannot be sent; warns about a template that is probably not what was meant.
    /// </summary>
    /// <param name="results">The command's -Raw and -IncludeUsage, when it has them.</param>
    /// <param name="warn">Warn about the template (commands that send it; a merge of results only matches rows with it).</param>
    /// <param name="checkers">The command's -Check: the checkers of the code, or null.</param>
    /// <param name="maxRepairs">The command's -MaxRepairs.</param>
    internal GenerationOptions ToOptions(PSCmdlet cmdlet, ResultParameters? results = null, bool warn = true,
        Core.Checking.CodeCheckers? checkers = null, int maxRepairs = 0, Core.Costing.ModelPrice? price = null)
    {
        var template = PromptTemplates.ParseOrThrow(cmdlet, PromptTemplate);
        PromptTemplates.ParseLanguageOrThrow(cmdlet, Language);
        if (warn)
        {
            PromptTemplates.WarnAboutUse(cmdlet, template, InputKey, Language, SystemPromptText);
        }
        return new GenerationOptions
        {
            InputKey = InputKey,
            OutputKey = OutputKey,
            Overwrite = Force,
            Template = template,
            SystemPrompt = SystemPromptText,
            Language = Language,
            Parameters = RequestParametersOrThrow(cmdlet),
            KeepRawAnswer = results?.Raw ?? false,
            IncludeUsage = results?.IncludeUsage ?? false,
            Checkers = checkers,
            MaxRepairs = maxRepairs,
            Price = price,
        };
    }

    private protected virtual ChatParameters RequestParametersOrThrow(PSCmdlet cmdlet) => new();

    private protected virtual string? SystemPromptText => null;
}

/// <summary>
/// <see cref="PromptParameters"/> and what every request carries besides the prompt (the system prompt and the
/// request parameters), for the commands that write requests (Invoke-CodeInstructionToCode, Export-CodeGenBatch).
/// </summary>
public sealed class GenerationParameters : PromptParameters
{
    [Parameter]
    public string? SystemPrompt { get; set; }

    [Parameter]
    [ValidateRange(0.0, 2.0)]
    public double? Temperature { get; set; }

    /// <summary>The most tokens an answer may have (max_completion_tokens to OpenAI and Azure OpenAI, max_tokens elsewhere).</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int? MaxTokens { get; set; }

    /// <summary>reasoning_effort for reasoning models (none, minimal, low, medium, high, xhigh; providers add values).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ReasoningEffortCompleter))]
    public string? ReasoningEffort { get; set; }

    /// <summary>Fields merged into every request body, with their JSON types (seed, top_p, stop, chat_template_kwargs...).</summary>
    [Parameter]
    public IDictionary? AdditionalBody { get; set; }

    private protected override string? SystemPromptText => SystemPrompt;

    private protected override ChatParameters RequestParametersOrThrow(PSCmdlet cmdlet)
        => RequestParameters.ResolveOrThrow(cmdlet, Temperature, MaxTokens, ReasoningEffort, AdditionalBody);
}

/// <summary>
/// What a row's result carries besides the code: the whole answer instead (-Raw), the token counts (-IncludeUsage) and
/// the check of the code (-Check). Declared once for the commands that fill rows with answers (Invoke-CodeInstructionToCode,
/// Import-CodeGenBatchResult).
/// </summary>
public sealed class ResultParameters
{
    /// <summary>Keep the model's whole answer instead of extracting the code.</summary>
    [Parameter]
    public SwitchParameter Raw { get; set; }

    /// <summary>Add the token counts of each row: &lt;OutputKey&gt;_prompt_tokens, _completion_tokens, _total_tokens.</summary>
    [Parameter]
    public SwitchParameter IncludeUsage { get; set; }

    /// <summary>Parse each row's code in its language and add &lt;OutputKey&gt;_check (ok, failed, unchecked) and &lt;OutputKey&gt;_check_detail.</summary>
    [Parameter]
    public SwitchParameter Check { get; set; }
}
