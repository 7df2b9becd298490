using System.Management.Automation;
using CodeGen.Core.Prompting;

namespace CodeGen.Commands.Support;

internal static class PromptTemplates
{
    /// <summary>The parsed -PromptTemplate (null when none was given), or a terminating InvalidPromptTemplate error.</summary>
    public static PromptTemplate? ParseOrThrow(PSCmdlet cmdlet, string? text)
    {
        return text is null ? null : ErrorRecords.ParseOrStop(cmdlet, () => PromptTemplate.Parse(text), "InvalidPromptTemplate",
            "Fix -PromptTemplate: a placeholder is {column}, and {{ and }} are literal braces.", text);
    }

    /// <summary>-Language read (a language, or <c>{column}</c> placeholders naming each row's), or a terminating InvalidLanguage error.</summary>
    public static RowLanguage? ParseLanguageOrThrow(PSCmdlet cmdlet, string? text)
        => ErrorRecords.ParseOrStop(cmdlet, () => RowLanguage.Parse(text), "InvalidLanguage",
            "Pass -Language a language (Python), or '{column}' to take each row's language from that column ('{{' and '}}' stand for braces).", text);

    /// <summary>
    /// Warns about a template that is probably not what was meant: one that leaves out the instruction column
    /// (every row asks the same, apart from the columns it names), and one that does not carry -Language to the
    /// model (the template replaces the default prompt, which names the language).
    /// </summary>
    /// <param name="systemPrompt">The system prompt: a language it names reaches the model too.</param>
    public static void WarnAboutUse(Cmdlet cmdlet, PromptTemplate? template, string inputKey, string? language, string? systemPrompt = null)
    {
        if (template is null)
        {
            return;
        }
        if (!template.Fields.Contains(inputKey, StringComparer.OrdinalIgnoreCase))
        {
            cmdlet.WriteWarning($"The prompt template does not use the instruction column: it has no {{{inputKey}}}, so no row's instruction reaches the model. " +
                $"Add {{{inputKey}}} to the template, or name the column that holds the instruction with -InputKey.");
        }
        if (!string.IsNullOrWhiteSpace(language) && !template.Fields.Contains("language", StringComparer.OrdinalIgnoreCase)
            && !template.Text.Contains(language.Trim(), StringComparison.OrdinalIgnoreCase)
            && !(systemPrompt ?? string.Empty).Contains(language.Trim(), StringComparison.OrdinalIgnoreCase))
        {
            cmdlet.WriteWarning($"-Language {language.Trim()} does not reach the model: the prompt template replaces the default prompt, which names the language, " +
                "and the template does not mention it. It still chooses which code block of an answer is kept. Write the language into the template if the model should hear it.");
        }
    }
}
