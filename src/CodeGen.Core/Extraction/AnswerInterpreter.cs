using CodeGen.Core.Llm;
using CodeGen.Core.Rows;

namespace CodeGen.Core.Extraction;

/// <summary>What an answer means for its row: the code to write, or the error that fails the row; and a warning to show.</summary>
/// <param name="LanguageTag">The tag of the code block the code came from (```python), or null.</param>
/// <param name="CheckCode">The code a check parses: the code, or with -Raw the answer's fenced block (prose does not parse).</param>
internal readonly record struct AnswerReading(string? Code, RowError? Error, string? Warning, string? LanguageTag = null, string? CheckCode = null);

/// <summary>
/// Reads an answer (of any API: see <see cref="WireApi"/>) as the result of one row: an answer the content filter withheld or the model refused, one
/// with no content, one whose code cannot be found (see <see cref="CodeExtractor"/>) or holds a NUL character, and
/// one cut off at the token limit. The one rule for every mode: live, replayed from a cache or a journal, or
/// merged from batch results.
/// </summary>
internal static class AnswerInterpreter
{
    /// <param name="keepRawAnswer">The whole answer is the code (no extraction).</param>
    /// <param name="language">The language whose fenced block is preferred when the answer has several.</param>
    public static AnswerReading Read(ChatAnswer answer, long rowNumber, bool keepRawAnswer, string? language)
    {
        RowError? error = null;
        string? warning = null;
        string? code = null;
        string? tag = null;
        string? checkCode = null;
        string finish = answer.FinishReason ?? string.Empty;

        if (string.Equals(finish, ChatAnswer.ContentFilter, StringComparison.OrdinalIgnoreCase))
        {
            error = RowError.Create(RowErrorKind.ContentFiltered, rowNumber, $"the provider's content filter withheld the answer ({answer.DescribeStop()}).");
        }
        else if (string.IsNullOrEmpty(answer.Content) && !string.IsNullOrEmpty(answer.Refusal))
        {
            string refusal = ErrorBody.Shown(answer.Refusal);
            error = RowError.Create(RowErrorKind.ContentFiltered, rowNumber, $"the model refused: {refusal}", serverMessage: refusal);
        }
        else if (string.IsNullOrWhiteSpace(answer.Content))
        {
            bool limit = string.Equals(finish, ChatAnswer.Length, StringComparison.OrdinalIgnoreCase);
            error = new RowError(RowErrorKind.InvalidResponse, rowNumber, limit
                ? $"the answer hit the token limit before any code was written ({answer.DescribeStop()})."
                : $"the answer has no content{(finish.Length > 0 ? $" ({answer.DescribeStop()})" : string.Empty)}.")
            {
                AtTokenLimit = limit,
            };
        }
        else
        {
            if (keepRawAnswer)
            {
                code = answer.Content;
                (checkCode, tag, _) = CodeExtractor.ForCheck(answer.Content, language);
            }
            else
            {
                var extracted = CodeExtractor.Extract(answer.Content, language);
                if (extracted.Source == CodeSource.Empty || string.IsNullOrWhiteSpace(extracted.Code))
                {
                    error = RowError.Create(RowErrorKind.InvalidResponse, rowNumber, "the answer holds no code (only reasoning or empty fences).");
                }
                code = checkCode = extracted.Code;
                tag = extracted.LanguageTag;
            }
            if (error is null && code is not null && code.Contains('\0'))
            {
                // one rule for every output: CSV has no way to keep it, and many tools stop reading at it
                error = RowError.Create(RowErrorKind.InvalidResponse, rowNumber, "the code holds a NUL character (U+0000), which no output format keeps safely.");
                code = null;
            }
            if (error is null && string.Equals(finish, ChatAnswer.Length, StringComparison.OrdinalIgnoreCase))
            {
                warning = $"Row {rowNumber}: the answer was cut off at the token limit ({answer.DescribeStop()}); the code may be incomplete.";
            }
        }
        return new AnswerReading(code, error, warning, tag, checkCode);
    }
}
