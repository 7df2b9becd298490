using System.Text.Json;
using CodeGen.Core.Llm;
using System.Diagnostics;
using System.Text;
using CodeGen.Core.Running;
using CodeGen.Core.Storage;
using FakeLlm;

namespace CodeGen.Core.Tests;

internal sealed class RecordingListener : IFileRunListener
{
    public List<(RowOutcome Outcome, DataRow Row)> Rows { get; } = [];
    public List<string> Notices { get; } = [];
    public Action<RowOutcome>? OnEachRow { get; init; }

    public void OnRow(RowOutcome outcome, DataRow row)
    {
        Rows.Add((outcome, row));
        OnEachRow?.Invoke(outcome);
    }

    public void OnProgress(RunStatistics statistics, double fractionRead)
    {
    }

    public void OnNotice(string message) => Notices.Add(message);

}

public class FileRunTests : IClassFixture<FakeServerFixture>, IDisposable
{
    private readonly FakeServerFixture _fixture;
    private readonly TempFolder _temp = new();

    public FileRunTests(FakeServerFixture fixture) => _fixture = fixture;

    public void Dispose() => _temp.Dispose();

    private string WriteTasks(string name, int count, Func<int, string>? instruction = null) => _temp.WriteTasks(name, count, instruction, newline: "\r\n");

    private (FileRunSummary Summary, RecordingListener Listener) Run(string input, string output, bool resume = false, bool force = false,
        int throttle = 4, FakeLlm.FakeLlmServer? server = null, CancellationToken cancellationToken = default, RecordingListener? listener = null)
    {
        server ??= _fixture.Server;
        using var client = Runs.Client(server.BaseUrl, concurrency: throttle);
        using var run = new GenerationRun(new GenerationOptions { Overwrite = force }, client);
        listener ??= new RecordingListener();
        var summary = new FileRun(new FileRunOptions { InputPath = input, OutputPath = output, Resume = resume }).Execute(run, listener, cancellationToken);
        return (summary, listener);
    }

    private static void AssertAllAnswered(string output, DataFormat format, int count)
    {
        var rows = Files.ReadAll(output, format);
        Assert.Equal(count, rows.Count);
        for (int i = 0; i < count; i++)
        {
            Assert.Equal($"task {i + 1}", Files.Text(rows[i], "instruction"));
            Assert.Equal(FakeLlmServer.CodeFor($"task {i + 1}"), Files.Text(rows[i], "generated_code"));
        }
    }

    [Theory]
    [InlineData("out.jsonl", DataFormat.JsonLines)]
    [InlineData("out.json", DataFormat.Json)]
    [InlineData("out.csv", DataFormat.Csv)]
    public void Writes_every_row_once_in_input_order(string name, DataFormat format)
    {
        _fixture.Use(new FakeLlmOptions { LatencyMs = 1, JitterMs = 20, Seed = 3 });
        string input = WriteTasks("in.csv", 60);
        var (summary, listener) = Run(input, _temp.File(name), throttle: 8);
        AssertAllAnswered(_temp.File(name), format, 60);
        Assert.Equal((60L, 60L, 0L, 0L), (summary.RowsRead, summary.Generated, summary.Failed, summary.SkippedByResume));
        Assert.True(summary.TotalTokens > 0);
        Assert.Equal(Enumerable.Range(1, 60).Select(i => (long)i), listener.Rows.Select(r => r.Outcome.RowNumber));
        Assert.Equal(60, _fixture.Server.Stats.Requests);
    }

    [Fact]
    public void A_failed_row_is_written_with_empty_code_and_its_error_recorded()
    {
        _fixture.Use(new FakeLlmOptions());
        string input = WriteTasks("in.csv", 3, i => i == 2 ? "task 2 [[fake:status=503;message=overloaded]]" : $"task {i}");
        var (summary, listener) = Run(input, _temp.File("out.csv"));
        var rows = Files.ReadAll(_temp.File("out.csv"), DataFormat.Csv);
        Assert.Equal(3, rows.Count);
        Assert.Equal("", Files.Text(rows[1], "generated_code"));
        Assert.StartsWith("LlmHttpError: the server answered 503", Files.Text(rows[1], "generated_code_error"));
        Assert.Contains("overloaded", Files.Text(rows[1], "generated_code_error"));
        Assert.Equal("", Files.Text(rows[2], "generated_code_error"));
        Assert.Equal((2L, 1L), (summary.Generated, summary.Failed));
        var error = listener.Rows[1].Outcome.Error!;
        Assert.Equal(2, error.RowNumber); // the listener heard the failure the file records
        Assert.Equal(503, error.StatusCode);
    }

    [Theory]
    [InlineData("out.jsonl", DataFormat.JsonLines)]
    [InlineData("out.json", DataFormat.Json)]
    [InlineData("out.csv", DataFormat.Csv)]
    public void Resume_after_a_crash_asks_only_for_the_rows_that_are_missing(string name, DataFormat format)
    {
        var server = _fixture.Use(new FakeLlmOptions());
        string input = WriteTasks("in.csv", 40);
        string output = _temp.File(name);
        Run(input, output);

        // What a kill leaves: the first 25 rows and half of the 26th.
        var rows = Files.ReadAll(output, format);
        File.Delete(output);
        Files.WriteAll(output, format, rows.Take(26), ["id", "instruction", "generated_code", "generated_code_error"]);
        byte[] bytes = File.ReadAllBytes(output);
        int lastRowLength = format == DataFormat.Json ? 60 : 40;
        File.WriteAllBytes(output, bytes[..(bytes.Length - lastRowLength)]);

        server.Stats.Reset();
        var (summary, listener) = Run(input, output, resume: true);
        AssertAllAnswered(output, format, 40);
        Assert.Equal(15, server.Stats.Requests); // rows 26..40
        Assert.Equal((40L, 15L, 25L), (summary.RowsRead, summary.Generated, summary.SkippedByResume));
        Assert.Contains(listener.Notices, n => n.Contains("partial last record"));
        Assert.DoesNotContain(server.Stats.AnsweredByTask.Keys, task => int.Parse(task[5..]) <= 25);
    }

    [Fact]
    public void Resume_rewrites_failed_rows_in_place_and_keeps_the_order()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        string input = WriteTasks("in.csv", 10, i => i is 3 or 7 ? $"task {i} [[fake:status=500;times=1]]" : $"task {i}");
        string output = _temp.File("out.jsonl");
        var first = Run(input, output).Summary;
        Assert.Equal(2, first.Failed);

        long before = server.Stats.Requests;
        var (summary, listener) = Run(input, output, resume: true);
        Assert.Equal(2, server.Stats.Requests - before);
        Assert.Equal((2L, 0L, 8L), (summary.Generated, summary.Failed, summary.SkippedByResume));
        var rows = Files.ReadAll(output, DataFormat.JsonLines);
        Assert.Equal(10, rows.Count);
        Assert.All(rows, r => Assert.True(r.HasText("generated_code")));
        Assert.All(rows, r => Assert.False(r.HasField("generated_code_error")));
        Assert.Equal(Enumerable.Range(1, 10).Select(i => i.ToString()), rows.Select(r => Files.Text(r, "id")));
        Assert.False(File.Exists(output + FileRun.ResumingSuffix));
        Assert.Contains(listener.Notices, n => n.Contains("asking again for 2"));
    }

    [Fact]
    public void An_interrupted_rewrite_is_merged_first_without_requests()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        string input = WriteTasks("in.csv", 6);
        string output = _temp.File("out.jsonl");
        Run(input, output);
        var all = Files.ReadAll(output, DataFormat.JsonLines);
        string[] columns = [];

        // The output had rows 2 and 5 failed; a resume rewrote rows 1..3 (fixing row 2), then was killed mid-row 4.
        var damaged = all.Select((r, i) => i is 1 or 4 ? Files.Row(("id", Files.Text(r, "id")), ("instruction", Files.Text(r, "instruction")), ("generated_code", null)) : r).ToList();
        File.Delete(output);
        Files.WriteAll(output, DataFormat.JsonLines, damaged, columns);
        Files.WriteAll(output + FileRun.ResumingSuffix, DataFormat.JsonLines, all.Take(3), columns);
        File.AppendAllText(output + FileRun.ResumingSuffix, "{\"id\":\"4\",\"instr");

        server.Stats.Reset();
        var (summary, listener) = Run(input, output, resume: true);
        AssertAllAnswered(output, DataFormat.JsonLines, 6);
        Assert.Equal(1, server.Stats.Requests); // only row 5 was still missing
        Assert.Equal(["task 5"], server.Stats.AnsweredByTask.Keys);
        Assert.Contains(listener.Notices, n => n.Contains("merged an interrupted rewrite (3 rows)"));
        Assert.False(File.Exists(output + FileRun.ResumingSuffix));
    }

    [Fact]
    public void Resume_refuses_an_output_that_belongs_to_another_input()
    {
        _fixture.Use(new FakeLlmOptions());
        string output = _temp.File("out.jsonl");
        Run(WriteTasks("a.csv", 5), output);
        string other = WriteTasks("b.csv", 5, i => i == 3 ? "something else" : $"task {i}");
        string before = File.ReadAllText(output);
        var ex = Assert.Throws<DataFileException>(() => Run(other, output, resume: true));
        Assert.Equal(DataFileException.OutputDoesNotMatchInput, ex.ErrorId);
        Assert.Contains("row 3", ex.Message);
        Assert.Equal(before, File.ReadAllText(output));

        var shorter = WriteTasks("c.csv", 4);
        Assert.Equal(DataFileException.OutputDoesNotMatchInput, Assert.Throws<DataFileException>(() => Run(shorter, output, resume: true)).ErrorId);
    }

    [Fact]
    public void Global_problems_stop_before_any_request_and_leave_no_output()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        string output = _temp.File("out.jsonl");

        var missing = Assert.Throws<DataFileException>(() => Run(_temp.File("nope.csv"), output));
        Assert.Equal(DataFileException.DataFileNotFound, missing.ErrorId);

        var unknown = Assert.Throws<DataFileException>(() => Run(_temp.Write("in.txt", "x"), output));
        Assert.Equal(DataFileException.UnknownDataFormat, unknown.ErrorId);
        Assert.Contains("'.txt'", unknown.Message);

        var noColumn = Assert.Throws<DataFileException>(() => Run(_temp.Write("c.csv", "id,prompt\n1,x\n"), output));
        Assert.Equal(DataFileException.MissingInputColumn, noColumn.ErrorId);
        Assert.Contains("'id', 'prompt'", noColumn.Message);

        var hasOutput = Assert.Throws<DataFileException>(() => Run(_temp.Write("d.csv", "instruction,generated_code\nx,old\n"), output));
        Assert.Equal(DataFileException.OutputColumnExists, hasOutput.ErrorId);

        var jsonNoColumn = Assert.Throws<DataFileException>(() => Run(_temp.Write("e.jsonl", "{\"text\":\"x\"}\n"), output));
        Assert.Equal(DataFileException.MissingInputColumn, jsonNoColumn.ErrorId);

        var malformedFirst = Assert.Throws<DataFileException>(() => Run(_temp.Write("f.jsonl", "{\"instruction\": nope}\n"), output));
        Assert.Equal(1, malformedFirst.Line);

        Assert.False(File.Exists(output));
        Assert.Equal(0, server.Stats.Requests);
    }

    [Fact]
    public void An_existing_output_needs_resume_or_force()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        string input = WriteTasks("in.csv", 2);
        string output = _temp.Write("out.jsonl", "{\"keep\":\"me\"}\n");
        var ex = Assert.Throws<DataFileException>(() => Run(input, output));
        Assert.Equal(DataFileException.OutputFileExists, ex.ErrorId);
        Assert.Equal("{\"keep\":\"me\"}\n", File.ReadAllText(output));
        Assert.Equal(0, server.Stats.Requests);

        Run(input, output, force: true);
        AssertAllAnswered(output, DataFormat.JsonLines, 2);
    }

    [Fact]
    public void Force_overwrites_the_output_column_of_the_input()
    {
        _fixture.Use(new FakeLlmOptions());
        string input = _temp.Write("in.csv", "instruction,generated_code\ntask 1,old\n");
        Run(input, _temp.File("out.csv"), force: true);
        AssertAllAnswered(_temp.File("out.csv"), DataFormat.Csv, 1);
    }

    [Fact]
    public void An_empty_input_is_an_empty_run()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        var (summary, _) = Run(_temp.Write("empty.jsonl", ""), _temp.File("out.json"));
        Assert.Equal(0, summary.RowsRead);
        Assert.Equal("[]\n", File.ReadAllText(_temp.File("out.json")));
        var (headerOnly, _) = Run(_temp.Write("header.csv", "id,instruction\r\n"), _temp.File("out.csv"));
        Assert.Equal(0, headerOnly.RowsRead);
        Assert.Equal("id,instruction,generated_code,generated_code_error\r\n", File.ReadAllText(_temp.File("out.csv")));
        Assert.Equal(0, server.Stats.Requests);
    }

    [Fact]
    public void A_malformed_record_further_down_stops_the_run_after_writing_the_rows_before_it()
    {
        _fixture.Use(new FakeLlmOptions { LatencyMs = 50 });
        string input = _temp.Write("in.jsonl", "{\"instruction\":\"task 1\"}\n{\"instruction\":\"task 2\"}\n{\"instruction\":\"task 3\",}\n{\"instruction\":\"task 4\"}\n");
        string output = _temp.File("out.jsonl");
        var ex = Assert.Throws<DataFileException>(() => Run(input, output));
        Assert.Equal(3, ex.Line);
        Assert.Contains("in.jsonl, line 3", ex.Message);
        AssertAllAnswered(output, DataFormat.JsonLines, 2);
    }

    /// <summary>
    /// The bytes of a journal a run holds: the run locks it against other runs (a lock .NET readers honour too), so it is
    /// read as a tool that takes no lock would read it.
    /// </summary>
    private static byte[] ReadLive(string path)
    {
        using var cat = Process.Start(new ProcessStartInfo("cat", [path]) { RedirectStandardOutput = true })!;
        using var bytes = new MemoryStream();
        cat.StandardOutput.BaseStream.CopyTo(bytes);
        cat.WaitForExit();
        return bytes.ToArray();
    }

    [Fact]
    public void Answers_that_arrived_behind_a_slow_row_survive_an_interruption_and_are_not_paid_for_again()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        string input = WriteTasks("in.csv", 100, i => i == 1 ? "task 1 [[fake:latency=30000]]" : $"task {i}");
        string output = _temp.File("out.jsonl");
        using var stop = new CancellationTokenSource();
        using (var client = Runs.Client(server.BaseUrl, concurrency: 8))
        using (var run = new GenerationRun(new GenerationOptions(), client))
        {
            var running = Task.Run(() => new FileRun(new FileRunOptions { InputPath = input, OutputPath = output }).Execute(run, new RecordingListener(), stop.Token));
            // every row behind row 1 is answered, and waits in memory for row 1 to be written first: its answer is
            // in the journal (on disk) as soon as it arrives
            string journal = AnswerJournal.PathFor(output);
            Assert.True(SpinWait.SpinUntil(() => File.Exists(journal) && ReadLive(journal).Count(b => b == '\n') >= 99, TimeSpan.FromSeconds(60)),
                "the answers of the rows behind row 1 did not reach the journal");
            stop.Cancel();
            run.Cancel();
            Assert.ThrowsAny<OperationCanceledException>(() => running.GetAwaiter().GetResult());
        }
        Assert.False(File.Exists(output)); // nothing could be written: row 1 never came
        Assert.True(File.Exists(AnswerJournal.PathFor(output)));

        // the same rows, row 1 now quick: only row 1 is asked
        server = _fixture.Use(new FakeLlmOptions());
        File.WriteAllLines(input, File.ReadAllLines(input).Select(line => line.Replace(" [[fake:latency=30000]]", string.Empty)));
        var (summary, listener) = Run(input, output, resume: true, throttle: 8, server: server);
        Assert.Equal(["task 1"], server.Stats.AnsweredByTask.Keys);
        Assert.Equal(100, summary.Generated);
        Assert.Contains(listener.Notices, n => n.StartsWith("99 answers of the interrupted run are in", StringComparison.Ordinal));
        AssertAllAnswered(output, DataFormat.JsonLines, 100);
        Assert.False(File.Exists(AnswerJournal.PathFor(output))); // the run completed: its journal is gone
    }

    [Fact]
    public void A_journal_line_cut_short_by_a_crash_is_asked_again_and_an_answer_for_other_messages_is_not_used()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        string input = WriteTasks("in.csv", 3);
        string output = _temp.File("out.jsonl");
        var answer = new ChatAnswer { Content = "```\nkept\n```", FinishReason = "stop" };
        using (var journal = AnswerJournal.Open(output, recover: false))
        {
            using var run = new GenerationRun(new GenerationOptions(), Runs.Client(server.BaseUrl));
            var rows = new[] { "task 1", "task 2", "task 3" }.Select(t => run.Prepare(TestRow.Instruction(t))).ToList();
            journal.Append(1, AnswerJournal.HashOf(rows[0].Prompt.Messages!, run.Options.Parameters), answer);
            journal.Append(2, "0123456789abcdef01234567", answer); // written for other messages (the prompt changed since)
            journal.Append(3, AnswerJournal.HashOf(rows[2].Prompt.Messages!, run.Options.Parameters), answer);
        }
        // the crash cut the last line short
        string path = AnswerJournal.PathFor(output);
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^20]);

        var (summary, _) = Run(input, output, resume: true, server: server);
        Assert.Equal(3, summary.Generated);
        Assert.Equal(["task 2", "task 3"], server.Stats.AnsweredByTask.Keys.Order());
        var written = Files.ReadAll(output, DataFormat.JsonLines);
        Assert.Equal("kept", Files.Text(written[0], "generated_code"));
        Assert.Equal(FakeLlmServer.CodeFor("task 3"), Files.Text(written[2], "generated_code"));
    }

    [Fact]
    public void Only_usable_answers_are_journaled_a_refusal_is_asked_again_after_an_interruption()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        string input = WriteTasks("in.csv", 3, i => i switch { 1 => "task 1 [[fake:latency=30000]]", 2 => "task 2 [[fake:style=refusal]]", _ => "task 3" });
        string output = _temp.File("out.jsonl");
        string journal = AnswerJournal.PathFor(output);
        using var stop = new CancellationTokenSource();
        using (var client = Runs.Client(server.BaseUrl, concurrency: 4))
        using (var run = new GenerationRun(new GenerationOptions(), client))
        {
            var running = Task.Run(() => new FileRun(new FileRunOptions { InputPath = input, OutputPath = output }).Execute(run, new RecordingListener(), stop.Token));
            // rows 2 and 3 are answered (one failed, one generated) while row 1 is still out, and row 3's answer is on disk
            Assert.True(SpinWait.SpinUntil(() => run.GetStatistics() is { Failed: >= 1, Succeeded: >= 1 } && File.Exists(journal) && ReadLive(journal).Contains((byte)'\n'),
                TimeSpan.FromSeconds(30)));
            stop.Cancel();
            run.Cancel();
            Assert.ThrowsAny<OperationCanceledException>(() => running.GetAwaiter().GetResult());
        }
        var rows = File.ReadAllLines(journal).Select(line => JsonDocument.Parse(line).RootElement.GetProperty("row").GetInt64()).ToList();
        Assert.Equal([3L], rows);
    }

    [Fact]
    public void A_journal_left_by_an_interrupted_run_counts_as_an_output_that_exists()
    {
        string input = WriteTasks("in.csv", 1);
        string output = _temp.File("out.jsonl");
        File.WriteAllText(AnswerJournal.PathFor(output), string.Empty);
        var error = Assert.Throws<DataFileException>(() => Run(input, output));
        Assert.Equal(DataFileException.OutputFileExists, error.ErrorId);
    }

    [Fact]
    public void A_stopped_run_keeps_the_rows_done_in_order_and_a_resume_does_not_ask_for_them_again()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        string input = WriteTasks("in.csv", 30, i => i <= 8 ? $"task {i}" : $"task {i} [[fake:latency=30000]]");
        string output = _temp.File("out.jsonl");
        using var stop = new CancellationTokenSource();
        using var client = Runs.Client(server.BaseUrl, concurrency: 4);
        var run = new GenerationRun(new GenerationOptions(), client);
        var listener = new RecordingListener
        {
            OnEachRow = outcome =>
            {
                if (outcome.RowNumber == 8)
                {
                    stop.Cancel();
                    run.Cancel(); // what Ctrl+C does
                }
            },
        };
        Assert.ThrowsAny<OperationCanceledException>(() =>
            new FileRun(new FileRunOptions { InputPath = input, OutputPath = output }).Execute(run, listener, stop.Token));
        // the stop did not wait for the rows in flight: none of their (30-second) answers had come when it returned
        Assert.DoesNotContain(server.Stats.AnsweredByTask.Keys, task => task.Contains("latency=30000", StringComparison.Ordinal));
        run.Dispose();
        Assert.Equal(8, Files.ReadAll(output, DataFormat.JsonLines).Count);

        _fixture.Use(new FakeLlmOptions { LatencyMs = 0 });
        string quick = WriteTasks("quick.csv", 30, i => i <= 8 ? $"task {i}" : $"task {i} [[fake:latency=1]]");
        File.Copy(quick, input, overwrite: true);
        Run(input, output, resume: true);
        // Count by task, not by request: bytes the stopped run wrote before the stop may still reach the server.
        Assert.Equal(Enumerable.Range(9, 22).Select(i => $"task {i} [[fake:latency=1]]").Order(), server.Stats.AnsweredByTask.Keys.Order());
        Assert.Equal(30, Files.ReadAll(output, DataFormat.JsonLines).Count);
    }

    [Fact]
    public void Step_storage_names_files_like_DataFlow_and_advances_only_past_written_steps()
    {
        string first = _temp.Write("first.jsonl", "{\"instruction\":\"x\"}\n");
        var storage = new StepStorage(first, _temp.File("cache"), "pipe", DataFormat.JsonLines);
        Assert.Equal(first, storage.InputPath);
        Assert.Equal(Path.Combine(_temp.File("cache"), "pipe_step1.jsonl"), storage.OutputPath);
        Assert.Throws<InvalidOperationException>(storage.Advance);
        Directory.CreateDirectory(_temp.File("cache"));
        File.WriteAllText(storage.OutputPath, "");
        storage.Advance();
        Assert.Equal(1, storage.Step);
        Assert.EndsWith("pipe_step1.jsonl", storage.InputPath);
        Assert.EndsWith("pipe_step2.jsonl", storage.OutputPath);
    }
}
