using System.Text;
using CodeGen.Core.Rows;

namespace CodeGen.Core.Prompting;

/// <summary>
/// A user prompt with <c>{column}</c> placeholders filled from each row. <c>{{</c> and <c>}}</c> stand for
/// literal braces. The template is parsed once; rendering a row is a single pass over the parsed pieces.
/// </summary>
public sealed class PromptTemplate
{
    private readonly Piece[] _pieces;

    private PromptTemplate(string text, Piece[] pieces, string[] fields)
    {
        Text = text;
        _pieces = pieces;
        Fields = fields;
    }

    /// <summary>The template as the user wrote it.</summary>
    public string Text { get; }

    /// <summary>Distinct placeholder names, in order of first use.</summary>
    public IReadOnlyList<string> Fields { get; }

    /// <summary>Parses a template; throws <see cref="FormatException"/> naming the offending position.</summary>
    public static PromptTemplate Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var pieces = new List<Piece>();
        var fields = new List<string>();
        var literal = new StringBuilder();
        int i = 0;
        while (i < text.Length)
        {
            char c = text[i];
            if (c == '{')
            {
                if (i + 1 < text.Length && text[i + 1] == '{')
                {
                    literal.Append('{');
                    i += 2;
                    continue;
                }
                int close = text.IndexOfAny(['{', '}'], i + 1);
                if (close < 0 || text[close] == '{')
                {
                    throw new FormatException(
                        $"The prompt template has a '{{' at position {i + 1} that is never closed. Write '{{{{' for a literal brace.");
                }
                string name = text.Substring(i + 1, close - i - 1).Trim();
                if (name.Length == 0)
                {
                    throw new FormatException(
                        $"The prompt template has an empty placeholder '{{}}' at position {i + 1}. Name a column, as in '{{instruction}}', or write '{{{{}}}}' for literal braces.");
                }
                if (literal.Length > 0)
                {
                    pieces.Add(Piece.Literal(literal.ToString()));
                    literal.Clear();
                }
                pieces.Add(Piece.Field(name));
                if (!fields.Contains(name, StringComparer.OrdinalIgnoreCase))
                {
                    fields.Add(name);
                }
                i = close + 1;
            }
            else if (c == '}')
            {
                if (i + 1 < text.Length && text[i + 1] == '}')
                {
                    literal.Append('}');
                    i += 2;
                    continue;
                }
                throw new FormatException(
                    $"The prompt template has a '}}' at position {i + 1} that closes nothing. Write '}}}}' for a literal brace.");
            }
            else
            {
                literal.Append(c);
                i++;
            }
        }
        if (literal.Length > 0)
        {
            pieces.Add(Piece.Literal(literal.ToString()));
        }
        return new PromptTemplate(text, pieces.ToArray(), fields.ToArray());
    }

    /// <summary>
    /// Fills the placeholders from <paramref name="row"/>. Returns false and the first missing column name when
    /// a placeholder names a field the row does not have. A present field whose value is null renders as empty text.
    /// </summary>
    public bool TryRender(IRowFields row, out string rendered, out string? missingField)
    {
        var parts = new List<PromptPart>(_pieces.Length);
        if (!TryCollect(row, parts, out missingField))
        {
            rendered = string.Empty;
            return false;
        }
        rendered = PromptPart.Concat(parts);
        return true;
    }

    /// <summary>
    /// The pieces of the rendered prompt in order (the template's text and the rows' values, not copied), for
    /// <see cref="PromptBuilder"/> to measure before it joins them. False, with the first missing column, as in <see cref="TryRender"/>.
    /// </summary>
    internal bool TryCollect(IRowFields row, List<PromptPart> parts, out string? missingField)
    {
        foreach (var piece in _pieces)
        {
            if (piece.IsField)
            {
                if (!row.TryGetField(piece.Text, out var value))
                {
                    missingField = piece.Text;
                    return false;
                }
                parts.Add(new PromptPart(value ?? string.Empty, piece.Text));
            }
            else
            {
                parts.Add(new PromptPart(piece.Text, null));
            }
        }
        missingField = null;
        return true;
    }

    public override string ToString() => Text;

    private readonly record struct Piece(string Text, bool IsField)
    {
        public static Piece Literal(string text) => new(text, false);
        public static Piece Field(string name) => new(name, true);
    }
}
