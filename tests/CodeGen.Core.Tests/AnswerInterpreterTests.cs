using CodeGen.Core.Extraction;
using CodeGen.Core.Llm;
using CodeGen.Core.Rows;

namespace CodeGen.Core.Tests;

public sealed class AnswerInterpreterTests
{
    private static AnswerReading Read(string? content, string? finish = "stop", string? refusal = null, bool raw = false, string? language = null)
        => AnswerInterpreter.Read(new ChatAnswer { Content = content, FinishReason = finish, Refusal = refusal }, 7, raw, language);

    [Fact]
    public void A_fenced_answer_gives_its_code()
    {
        var reading = Read("Here:\n```python\nprint(1)\n```\nDone.");
        Assert.Equal(("print(1)", (RowError?)null, (string?)null), (reading.Code, reading.Error, reading.Warning));
    }

    [Fact]
    public void Raw_answers_are_kept_whole()
        => Assert.Equal("Here:\n```\nx\n```", Read("Here:\n```\nx\n```", raw: true).Code);

    [Fact]
    public void The_wanted_language_is_preferred()
        => Assert.Equal("b", Read("```python\na\n```\n```powershell\nb\n```", language: "powershell").Code);

    [Theory]
    [InlineData("x", "content_filter", null, RowErrorKind.ContentFiltered, "content filter")]
    [InlineData(null, "stop", "I can't help with that.", RowErrorKind.ContentFiltered, "the model refused: I can't help with that.")]
    [InlineData("  ", "length", null, RowErrorKind.InvalidResponse, "hit the token limit before any code")]
    [InlineData("", "stop", null, RowErrorKind.InvalidResponse, "no content (finish_reason 'stop')")]
    [InlineData("<think>only thinking</think>", "stop", null, RowErrorKind.InvalidResponse, "holds no code")]
    [InlineData("```\na\0b\n```", "stop", null, RowErrorKind.InvalidResponse, "NUL character")]
    public void Answers_without_usable_code_fail_the_row(string? content, string finish, string? refusal, RowErrorKind kind, string said)
    {
        var reading = Read(content, finish, refusal);
        Assert.Equal(kind, reading.Error!.Kind);
        Assert.Contains(said, reading.Error.Message, StringComparison.Ordinal);
        Assert.Equal(7, reading.Error.RowNumber);
        Assert.Null(reading.Warning);
    }

    [Fact]
    public void Code_cut_off_at_the_token_limit_is_kept_with_a_warning()
    {
        var reading = Read("```python\nprint(1)\nprint(", "length");
        Assert.Null(reading.Error);
        Assert.StartsWith("print(1)", reading.Code);
        Assert.StartsWith("Row 7: the answer was cut off at the token limit", reading.Warning);
    }
}
