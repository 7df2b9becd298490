using CodeGen.Core.Rows;

namespace CodeGen.Core.Prompting;

/// <summary>
/// -Language: one language for every row (<c>PowerShell</c>), or the name of a column that holds each row's
/// (<c>{language}</c>), with <c>{column}</c> placeholders as in <see cref="PromptTemplate"/> (<c>{{</c> and <c>}}</c>
/// are literal braces). The row's language is what the default prompt asks for, the code block an answer's code is
/// taken from, and what -Check parses the code as.
/// </summary>
public sealed class RowLanguage
{
    private readonly string? _fixed;
    private readonly PromptTemplate? _template;

    private RowLanguage(string text, string? @fixed, PromptTemplate? template)
    {
        Text = text;
        _fixed = @fixed;
        _template = template;
    }

    /// <summary>-Language as the user wrote it.</summary>
    public string Text { get; }

    /// <summary>True when the language comes from each row's columns.</summary>
    public bool IsPerRow => _template is not null;

    /// <summary>The columns it names, in order of first use (none for one fixed language).</summary>
    public IReadOnlyList<string> Fields => _template?.Fields ?? [];

    /// <summary>The language of every row, or null when it comes from each row.</summary>
    public string? Fixed => _fixed;

    /// <summary>
    /// Reads -Language; null for none. A text without braces is the language itself; one with <c>{column}</c>
    /// placeholders is filled from each row.
    /// </summary>
    /// <exception cref="FormatException">A brace that opens or closes nothing, or an empty placeholder.</exception>
    public static RowLanguage? Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }
        if (text.IndexOfAny(['{', '}']) < 0)
        {
            return new RowLanguage(text, text.Trim(), null);
        }
        PromptTemplate template;
        try
        {
            template = PromptTemplate.Parse(text);
        }
        catch (FormatException ex)
        {
            throw new FormatException($"-Language '{text}' is neither a language name nor a {{column}} placeholder: " +
                ex.Message.Replace("The prompt template", "it", StringComparison.Ordinal), ex);
        }
        if (template.Fields.Count == 0)
        {
            // only literal braces: one language after all
            template.TryRender(NoFields.Instance, out string rendered, out _);
            return string.IsNullOrWhiteSpace(rendered) ? null : new RowLanguage(text, rendered.Trim(), null);
        }
        return new RowLanguage(text, null, template);
    }

    /// <summary>
    /// The language of <paramref name="row"/>: the fixed one, or the columns' values (trimmed; null when they are empty,
    /// so the row is asked for code in no language in particular and checked by its answer's code block). False, with
    /// the first column the row lacks, when a column is missing.
    /// </summary>
    public bool TryResolve(IRowFields row, out string? language, out string? missingField)
    {
        missingField = null;
        if (_template is null)
        {
            language = _fixed;
            return true;
        }
        if (!_template.TryRender(row, out string rendered, out missingField))
        {
            language = null;
            return false;
        }
        language = string.IsNullOrWhiteSpace(rendered) ? null : rendered.Trim();
        return true;
    }

    public override string ToString() => Text;

    private sealed class NoFields : IRowFields
    {
        public static readonly NoFields Instance = new();

        public bool HasField(string name) => false;

        public bool TryGetField(string name, out string? value)
        {
            value = null;
            return false;
        }
    }
}
