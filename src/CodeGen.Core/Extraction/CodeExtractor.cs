namespace CodeGen.Core.Extraction;

/// <summary>Where the extracted code came from in the model's answer.</summary>
public enum CodeSource
{
    /// <summary>The answer was empty (or only reasoning).</summary>
    Empty,
    /// <summary>A closed fenced block.</summary>
    FencedBlock,
    /// <summary>A fence that was opened and never closed: the answer was cut off (finish_reason length).</summary>
    UnclosedFence,
    /// <summary>No fence at all: the whole answer (without reasoning) is taken as code.</summary>
    WholeAnswer,
}

/// <summary>The code pulled out of an answer, with the fence's language tag when it had one.</summary>
public readonly record struct ExtractedCode(string Code, string? LanguageTag, CodeSource Source);

/// <summary>
/// Pulls the code out of a chat answer. Handles ``` and ~~~ fences of any length, any or no language tag,
/// indented fences (inside list items), prose around and between blocks, several blocks (the first, or the
/// first in the wanted language), a fence left open by a truncated answer, <c>&lt;think&gt;</c> reasoning,
/// and CRLF line ends. Without any fence the whole answer is the code.
/// </summary>
public static class CodeExtractor
{
    /// <summary>
    /// The code a check parses in a text that may be a whole answer (-Raw, or a data set's field): its fenced block, in
    /// the block's language, when it has one; else the text itself, language unknown.
    /// </summary>
    public static ExtractedCode ForCheck(string text, string? language = null)
        => Extract(text, language) is { Source: CodeSource.FencedBlock or CodeSource.UnclosedFence } block ? block : new ExtractedCode(text, null, CodeSource.WholeAnswer);

    public static ExtractedCode Extract(string? answer, string? language = null)
    {
        if (string.IsNullOrEmpty(answer))
        {
            return new ExtractedCode(string.Empty, null, CodeSource.Empty);
        }

        string text = RemoveReasoning(NormalizeNewlines(answer));
        if (string.IsNullOrWhiteSpace(text))
        {
            return new ExtractedCode(string.Empty, null, CodeSource.Empty);
        }

        var blocks = FindBlocks(text);
        if (blocks.Count > 0)
        {
            Block? chosen = null;
            if (!string.IsNullOrWhiteSpace(language))
            {
                chosen = blocks.FirstOrDefault(b => b.Tag is not null && LanguageNames.SameLanguage(b.Tag, language) && !string.IsNullOrWhiteSpace(b.Code));
            }
            chosen ??= blocks.FirstOrDefault(b => !string.IsNullOrWhiteSpace(b.Code)) ?? blocks[0];
            return new ExtractedCode(TrimBlankLines(chosen.Code), chosen.Tag, chosen.Closed ? CodeSource.FencedBlock : CodeSource.UnclosedFence);
        }

        string whole = TrimBlankLines(text);
        // An answer that is nothing but one inline code span: `Get-Date`
        if (whole.Length > 2 && whole[0] == '`' && whole[^1] == '`' && whole.IndexOf('`', 1) == whole.Length - 1 && !whole.Contains('\n'))
        {
            whole = whole[1..^1];
        }
        return new ExtractedCode(whole, null, CodeSource.WholeAnswer);
    }

    private static string NormalizeNewlines(string text)
        => text.Contains('\r') ? text.Replace("\r\n", "\n").Replace('\r', '\n') : text;

    /// <summary>
    /// Removes the reasoning a model writes before its answer. A &lt;think&gt;…&lt;/think&gt; (or &lt;thinking&gt;)
    /// block at the very start is reasoning (an opening tag without a close: the answer ended while reasoning,
    /// nothing is left). A closing tag with no opening at the start (chat templates that put &lt;think&gt; into the
    /// prompt) ends the reasoning when it stands outside any code fence and a fence follows it, or, in an answer
    /// without fences after it, when it ends its line and no opening tag comes before it. Tags anywhere else are
    /// text: inside code (<c>print("&lt;/think&gt;")</c>) they are code.
    /// </summary>
    internal static string RemoveReasoning(string text)
    {
        string start = text.TrimStart().TrimStart('\uFEFF', '\u200B', '\u200C', '\u200D', '\u2060').TrimStart();
        foreach (var (open, close) in ReasoningTags)
        {
            if (start.StartsWith(open, StringComparison.OrdinalIgnoreCase))
            {
                int end = start.IndexOf(close, open.Length, StringComparison.OrdinalIgnoreCase);
                return end < 0 ? string.Empty : start[(end + close.Length)..];
            }
            int closing = FirstOutsideFences(text, close);
            if (closing < 0)
            {
                continue;
            }
            int after = closing + close.Length;
            bool fenceFollows = FenceLine(text, after) >= 0;
            bool endsLine = after == text.Length || text[after] == '\n' || text.AsSpan(after, LineEnd(text, after) - after).IsWhiteSpace();
            if (fenceFollows || (endsLine && text.IndexOf(open, 0, closing, StringComparison.OrdinalIgnoreCase) < 0))
            {
                return text[after..];
            }
        }
        return text;
    }

    /// <summary>The first <paramref name="tag"/> that stands outside the code fences (an even number of fence lines before it), or -1.</summary>
    private static int FirstOutsideFences(string text, string tag)
    {
        int fences = 0, line = 0;
        for (int at = text.IndexOf(tag, StringComparison.OrdinalIgnoreCase); at >= 0; at = text.IndexOf(tag, at + tag.Length, StringComparison.OrdinalIgnoreCase))
        {
            // count the fence lines between the last position looked at and this one
            for (int next; (next = FenceLine(text, line)) >= 0 && next < at; line = LineEnd(text, next) + 1)
            {
                fences++;
            }
            if (fences % 2 == 0)
            {
                return at;
            }
        }
        return -1;
    }

    /// <summary>The start of the first line at or after <paramref name="from"/> (a line start) that opens or closes a fence, or -1.</summary>
    private static int FenceLine(string text, int from)
    {
        // from may be inside a line: look from the next line start
        int line = from == 0 || (from <= text.Length && text[from - 1] == '\n') ? from : LineEnd(text, from) + 1;
        for (; line < text.Length; line = LineEnd(text, line) + 1)
        {
            var content = text.AsSpan(line, LineEnd(text, line) - line).TrimStart();
            if (content.StartsWith("```") || content.StartsWith("~~~"))
            {
                return line;
            }
        }
        return -1;
    }

    /// <summary>The tags of reasoning, opening and closing (built once: every answer is looked through for them).</summary>
    private static readonly (string Open, string Close)[] ReasoningTags = [("<think>", "</think>"), ("<thinking>", "</thinking>")];

    private sealed record Block(string Code, string? Tag, bool Closed);

    /// <summary>The end of the line starting at <paramref name="start"/>: the index of its '\n', or the text's length.</summary>
    private static int LineEnd(string text, int start)
    {
        int newline = text.IndexOf('\n', start);
        return newline < 0 ? text.Length : newline;
    }

    /// <summary>Finds the fenced blocks by walking the lines of the text in place (no copies of lines).</summary>
    private static List<Block> FindBlocks(string text)
    {
        var blocks = new List<Block>(2);
        int position = 0;
        while (position < text.Length)
        {
            int lineEnd = LineEnd(text, position);
            if (!TryParseOpening(text.AsSpan(position, lineEnd - position), out int indent, out char fenceChar, out int fenceLength, out string? tag))
            {
                position = lineEnd + 1;
                continue;
            }
            int contentStart = Math.Min(lineEnd + 1, text.Length);

            // The closing fence: a line of the same character, at least as long.
            for (int line = contentStart; line < text.Length; line = LineEnd(text, line) + 1)
            {
                int end = LineEnd(text, line);
                if (IsClosing(text.AsSpan(line, end - line), fenceChar, fenceLength))
                {
                    blocks.Add(new Block(Content(text, contentStart, line, indent), tag, true));
                    position = end + 1;
                    goto nextBlock;
                }
            }

            // No closing line. Some models glue the closing fence to the last code line ("print(x)```").
            for (int line = contentStart; line < text.Length; line = LineEnd(text, line) + 1)
            {
                var trimmed = text.AsSpan(line, LineEnd(text, line) - line).TrimEnd();
                if (trimmed.Length > fenceLength && trimmed.TrimStart().Length > fenceLength
                    && trimmed[^fenceLength..].IndexOfAnyExcept(fenceChar) < 0 && trimmed[^(fenceLength + 1)] != fenceChar)
                {
                    blocks.Add(new Block(Content(text, contentStart, line + trimmed.Length - fenceLength, indent), tag, true));
                    position = LineEnd(text, line) + 1;
                    goto nextBlock;
                }
            }

            // Truncated answer: the block runs to the end.
            blocks.Add(new Block(Content(text, contentStart, text.Length, indent), tag, false));
            break;
        nextBlock:;
        }
        return blocks;
    }

    private static bool TryParseOpening(ReadOnlySpan<char> line, out int indent, out char fenceChar, out int fenceLength, out string? tag)
    {
        indent = 0;
        fenceChar = '\0';
        fenceLength = 0;
        tag = null;
        while (indent < line.Length && (line[indent] == ' ' || line[indent] == '\t'))
        {
            indent++;
        }
        if (indent >= line.Length || (line[indent] != '`' && line[indent] != '~'))
        {
            return false;
        }
        fenceChar = line[indent];
        int k = indent;
        while (k < line.Length && line[k] == fenceChar)
        {
            k++;
        }
        fenceLength = k - indent;
        if (fenceLength < 3)
        {
            return false;
        }
        var info = line[k..].Trim();
        if (fenceChar == '`' && info.Contains('`'))
        {
            return false; // inline code such as ```x``` on one line, not a fence
        }
        if (info.Length > 0)
        {
            // "python title=x.py", "{.python}", "language-python"
            int space = info.IndexOfAny(' ', '\t');
            var first = (space < 0 ? info : info[..space]).Trim("{}.");
            if (first.StartsWith("language-", StringComparison.OrdinalIgnoreCase))
            {
                first = first["language-".Length..];
            }
            tag = first.Length > 0 ? first.ToString() : null;
        }
        return true;
    }

    private static bool IsClosing(ReadOnlySpan<char> line, char fenceChar, int fenceLength)
    {
        var trimmed = line.Trim();
        return trimmed.Length >= fenceLength && trimmed.IndexOfAnyExcept(fenceChar) < 0;
    }

    /// <summary>The text between <paramref name="from"/> and <paramref name="to"/>, each line losing up to <paramref name="indent"/> leading blanks.</summary>
    private static string Content(string text, int from, int to, int indent)
    {
        if (to <= from)
        {
            return string.Empty;
        }
        if (indent == 0)
        {
            return text.Substring(from, to - from);
        }
        var sb = new System.Text.StringBuilder(to - from);
        for (int line = from; line < to; line = LineEnd(text, line) + 1)
        {
            int end = Math.Min(LineEnd(text, line), to);
            int strip = 0;
            while (strip < indent && line + strip < end && (text[line + strip] == ' ' || text[line + strip] == '\t'))
            {
                strip++;
            }
            sb.Append(text, line + strip, end - line - strip);
            if (end < to)
            {
                sb.Append('\n');
            }
        }
        return sb.ToString();
    }

    /// <summary>Drops blank lines at both ends and trailing whitespace, but keeps the first line's indentation.</summary>
    private static string TrimBlankLines(string text)
    {
        int start = 0;
        while (true)
        {
            int nl = text.IndexOf('\n', start);
            if (nl < 0 || !string.IsNullOrWhiteSpace(text[start..nl]))
            {
                break;
            }
            start = nl + 1;
        }
        return text[start..].TrimEnd();
    }
}
