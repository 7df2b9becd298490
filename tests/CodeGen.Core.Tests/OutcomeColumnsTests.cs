using CodeGen.Core.Checking;
using CodeGen.Core.Llm;
using CodeGen.Core.Rows;
using CodeGen.Core.Running;

namespace CodeGen.Core.Tests;

/// <summary>The one rule for how an outcome fills a row's columns, for pipeline objects and for rows of an output file.</summary>
public class OutcomeColumnsTests
{
    /// <summary>A row as a list of named values in the order they were added; names match ignoring case.</summary>
    private sealed class ColumnsRow : IOutcomeRow
    {
        public List<(string Name, object? Value)> Fields { get; } = [];

        public ColumnsRow(params (string Name, object? Value)[] fields) => Fields.AddRange(fields);

        public IEnumerable<string> Names => Fields.Select(f => f.Name);

        public object? this[string name] => Fields[IndexOf(name)].Value;

        private int IndexOf(string name) => Fields.FindIndex(f => string.Equals(f.Name, name, StringComparison.OrdinalIgnoreCase));

        public bool HasField(string name) => IndexOf(name) >= 0;

        public bool TryGetField(string name, out string? value)
        {
            int index = IndexOf(name);
            value = index < 0 ? null : Fields[index].Value?.ToString();
            return index >= 0;
        }

        public void Set(string key, string? value) => Put(key, value);

        public void SetCount(string key, long? count) => Put(key, count);

        private void Put(string key, object? value)
        {
            int index = IndexOf(key);
            if (index < 0)
            {
                Fields.Add((key, value));
            }
            else
            {
                Fields[index] = (Fields[index].Name, value);
            }
        }
    }

    private static readonly TokenUsage Usage = new(10, 20, 30, 5, 2);

    private static RowOutcome Answered(string code, CheckResult? check = null) => new() { RowNumber = 1, Code = code, Usage = Usage, Check = check };

    private static RowOutcome Failed(TokenUsage? usage = null) => new()
    {
        RowNumber = 1,
        Error = RowError.Create(RowErrorKind.HttpError, 1, "the server said no.", statusCode: 500),
        Usage = usage,
    };

    private static OutcomeColumns Columns(OutcomeRowKind kind, bool check = true, bool usage = true) => new("code", check, usage, kind);

    [Fact]
    public void The_columns_are_the_code_its_error_its_check_and_the_token_counts_in_that_order()
    {
        Assert.Equal(
            ["code", "code_error", "code_check", "code_check_detail", "code_prompt_tokens", "code_completion_tokens", "code_total_tokens", "code_reasoning_tokens", "code_cached_tokens"],
            Columns(OutcomeRowKind.FileRow).Keys);
        Assert.Equal(["code", "code_error"], Columns(OutcomeRowKind.FileRow, check: false, usage: false).Keys);
        var options = new GenerationOptions { OutputKey = "answer", IncludeUsage = true };
        Assert.Equal("answer_cached_tokens", OutcomeColumns.For(options, OutcomeRowKind.PipelineObject).Keys[^1]);
        Assert.Null(OutcomeColumns.For(options, OutcomeRowKind.PipelineObject).CheckKey);
    }

    [Theory]
    [InlineData(OutcomeRowKind.PipelineObject)]
    [InlineData(OutcomeRowKind.FileRow)]
    public void An_answered_row_gets_its_code_its_check_and_its_token_counts(OutcomeRowKind kind)
    {
        var row = new ColumnsRow(("instruction", "task"), ("code_error", "HttpError: an earlier failure"));
        Columns(kind).Fill(Answered("print(1)", CheckResult.Failed("python", ["line 1, column 2: bad"])), row);

        Assert.Equal("print(1)", row["code"]);
        Assert.Null(row["code_error"]);
        Assert.Equal("failed", row["code_check"]);
        Assert.Equal("line 1, column 2: bad", row["code_check_detail"]);
        Assert.Equal([10L, 20L, 30L, 5L, 2L], row.Fields.Skip(5).Select(f => (long)f.Value!));
    }

    [Fact]
    public void An_ok_check_has_no_detail_and_a_row_the_run_did_not_check_has_no_status()
    {
        var row = new ColumnsRow(("instruction", "task"));
        var columns = Columns(OutcomeRowKind.PipelineObject, usage: false);
        columns.Fill(Answered("print(1)", CheckResult.Ok("python")), row);
        Assert.Equal(("ok", (object?)null), (row["code_check"], row["code_check_detail"]));
        columns.Fill(Answered("print(1)", check: null), row);
        Assert.Equal(((object?)null, (object?)null), (row["code_check"], row["code_check_detail"]));
    }

    [Fact]
    public void Every_pipeline_object_carries_the_error_column_so_that_Export_Csv_keeps_it()
    {
        var row = new ColumnsRow(("instruction", "task"));
        Columns(OutcomeRowKind.PipelineObject, check: false, usage: false).Fill(Answered("x"), row);
        Assert.Equal(["instruction", "code", "code_error"], row.Names);
        Assert.Null(row["code_error"]);
    }

    [Fact]
    public void A_row_of_an_output_file_gets_the_error_column_only_when_it_failed_or_has_one()
    {
        var row = new ColumnsRow(("instruction", "task"));
        Columns(OutcomeRowKind.FileRow, check: false, usage: false).Fill(Answered("x"), row);
        Assert.Equal(["instruction", "code"], row.Names);
    }

    [Fact]
    public void A_failed_pipeline_object_keeps_every_column_it_has_and_gains_the_others_empty()
    {
        var row = new ColumnsRow(("instruction", "task"), ("code", "earlier code"), ("code_check", "ok"), ("code_prompt_tokens", 7L));
        Columns(OutcomeRowKind.PipelineObject).Fill(Failed(Usage), row);

        Assert.Equal("earlier code", row["code"]);
        Assert.Equal("LlmHttpError: the server said no.", row["code_error"]);
        Assert.Equal("ok", row["code_check"]);
        Assert.Null(row["code_check_detail"]);
        Assert.Equal(7L, row["code_prompt_tokens"]); // kept
        Assert.Equal(20L, row["code_completion_tokens"]); // added: the failed request's
        Assert.Equal(["instruction", "code", "code_check", "code_prompt_tokens", "code_error", "code_check_detail", "code_completion_tokens",
            "code_total_tokens", "code_reasoning_tokens", "code_cached_tokens"], row.Names);
    }

    [Fact]
    public void A_failed_pipeline_object_keeps_an_empty_code_column_as_it_is()
    {
        var row = new ColumnsRow(("instruction", "task"), ("code", ""));
        Columns(OutcomeRowKind.PipelineObject, check: false, usage: false).Fill(Failed(), row);
        Assert.Equal("", row["code"]);
    }

    [Fact]
    public void A_failed_row_of_an_output_file_keeps_its_code_and_its_check_and_takes_the_failed_requests_token_counts()
    {
        var row = new ColumnsRow(("instruction", "task"), ("code", "earlier code"), ("code_check", "ok"), ("code_check_detail", null), ("code_prompt_tokens", 7L));
        Columns(OutcomeRowKind.FileRow).Fill(Failed(), row);

        Assert.Equal("earlier code", row["code"]);
        Assert.Equal("LlmHttpError: the server said no.", row["code_error"]);
        Assert.Equal("ok", row["code_check"]);
        Assert.Null(row["code_prompt_tokens"]); // the failed request reported none
    }

    [Fact]
    public void A_failed_row_of_an_output_file_with_blank_code_loses_it_and_its_check()
    {
        var row = new ColumnsRow(("instruction", "task"), ("code", "  "), ("code_check", "failed"), ("code_check_detail", "line 1"));
        Columns(OutcomeRowKind.FileRow, usage: false).Fill(Failed(), row);

        Assert.Null(row["code"]);
        Assert.Null(row["code_check"]);
        Assert.Null(row["code_check_detail"]);
        Assert.Equal("LlmHttpError: the server said no.", row["code_error"]);
    }

    [Fact]
    public void Test_CodeGenCode_fills_the_check_columns_beside_the_code_it_checks()
    {
        var row = new ColumnsRow(("script", "print("), ("script_check", "ok"));
        OutcomeColumns.ForCheck("script").FillCheck(CheckResult.Failed("python", ["line 1, column 7: '(' was never closed"]), row);
        Assert.Equal(["script", "script_check", "script_check_detail"], row.Names);
        Assert.Equal("failed", row["script_check"]);
        Assert.Equal("line 1, column 7: '(' was never closed", row["script_check_detail"]);
    }

    [Fact]
    public void A_kind_of_row_it_does_not_know_is_refused()
        => Assert.Throws<ArgumentOutOfRangeException>(() => new OutcomeColumns("code", check: false, usage: false, (OutcomeRowKind)7));
}
