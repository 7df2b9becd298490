using System.Text;
using CodeGen.Core.Prompting;
using CodeGen.Core.Rows;
using CodeGen.Core.Running;
using CodeGen.Core.Storage;
using FakeLlm;

namespace CodeGen.Core.Tests;

/// <summary>A row whose prompt is longer than a request may carry fails on its own, before anything is built or sent.</summary>
/// <remarks>In the managed-heap collection: its prompts of 32 MiB and more would count in a heap measured alongside.</remarks>
[Collection(ManagedHeap.Collection)]
public class RequestSizeTests : IClassFixture<FakeServerFixture>, IDisposable
{
    private const int Limit = PromptBuilder.MaxPromptBytes;

    private readonly FakeServerFixture _fixture;
    private readonly TempFolder _temp = new();

    public RequestSizeTests(FakeServerFixture fixture) => _fixture = fixture;

    public void Dispose() => _temp.Dispose();

    private static PromptBuilder Builder(string? template = null, string? systemPrompt = null)
        => new("instruction", "generated_code", overwrite: false, template is null ? null : PromptTemplate.Parse(template), systemPrompt, language: null);

    [Fact]
    public void A_prompt_of_exactly_the_limit_is_sent_and_one_byte_more_is_refused_naming_the_row_the_field_and_the_limit()
    {
        var builder = Builder();
        int room = Limit - Encoding.UTF8.GetByteCount(builder.DefaultPrompt(""));
        var fits = builder.Build(TestRow.Instruction(new string('x', room)), 7);
        Assert.True(fits.IsSendable);
        Assert.Equal(Limit, Encoding.UTF8.GetByteCount(fits.Messages![0].Content));

        var over = builder.Build(TestRow.Instruction(new string('x', room + 1)), 7);
        Assert.False(over.IsSendable);
        Assert.Equal(RowErrorKind.RequestTooLarge, over.Error!.Kind);
        Assert.Equal("RequestTooLarge", over.Error.ErrorId);
        Assert.StartsWith("Row 7: the prompt is 33,554,433 bytes (the 'instruction' field " + (room + 1).ToString("N0", System.Globalization.CultureInfo.InvariantCulture) + ")", over.Error.Message);
        Assert.Contains("33,554,432 bytes (32 MiB)", over.Error.Message);
        Assert.Contains("no request was sent", over.Error.Message);
    }

    [Fact]
    public void Bytes_are_counted_in_utf8_with_the_system_prompt_and_the_template()
    {
        // under the limit in characters, over it in UTF-8: 'é' takes two bytes
        var accented = Builder().Build(TestRow.Instruction(new string('é', Limit / 2)), 1);
        Assert.Equal(RowErrorKind.RequestTooLarge, accented.Error?.Kind);

        string half = new('x', Limit / 2);
        Assert.True(Builder().Build(TestRow.Instruction(half), 1).IsSendable);
        var withSystem = Builder(systemPrompt: half).Build(TestRow.Instruction(half), 2);
        Assert.Equal(RowErrorKind.RequestTooLarge, withSystem.Error?.Kind);

        var row = new TestRow(("instruction", "short"), ("context", half), ("notes", half));
        var templated = Builder("{instruction} {context} {notes}").Build(row, 3);
        Assert.Equal(RowErrorKind.RequestTooLarge, templated.Error?.Kind);
        Assert.Contains("the 'context' field 16,777,216", templated.Error!.Message);
        Assert.True(Builder("{instruction} {context}").Build(row, 3).IsSendable);
    }

    [Fact]
    public void A_file_run_fails_only_the_oversized_row_and_answers_the_others()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        string input = _temp.WriteTasks("in.csv", 3, n => n == 2 ? new string('x', Limit + 1) : $"task {n}");
        string output = _temp.File("out.jsonl");
        using var client = Runs.Client(server.BaseUrl);
        using var run = new GenerationRun(new GenerationOptions(), client);
        var listener = new RecordingListener();

        var summary = new FileRun(new FileRunOptions { InputPath = input, OutputPath = output }).Execute(run, listener, CancellationToken.None);

        Assert.Equal((3L, 2L, 1L), (summary.RowsRead, summary.Generated, summary.Failed));
        Assert.Equal(2, server.Stats.Requests);
        var error = listener.Rows.Single(r => r.Outcome.Error is not null).Outcome.Error!;
        Assert.Equal((RowErrorKind.RequestTooLarge, 2L), (error.Kind, error.RowNumber));
        var rows = Files.ReadAll(output, DataFormat.JsonLines);
        Assert.Equal(FakeLlmServer.CodeFor("task 3"), Files.Text(rows[2], "generated_code"));
        Assert.Equal(Limit + 1, Files.Text(rows[1], "instruction").Length);
        Assert.StartsWith("RequestTooLarge: the prompt is ", Files.Text(rows[1], "generated_code_error"));
    }
}
