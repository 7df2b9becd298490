using CodeGen.Core.Checking;
using CodeGen.Core.Llm;
using CodeGen.Core.Running;
using CodeGen.Core.Storage;
using FakeLlm;

namespace CodeGen.Core.Tests;

/// <summary>-Check and -MaxRepairs in the engine: every row's code checked beside the requests, and code that does not parse sent back.</summary>
public class CheckRunTests : IClassFixture<FakeServerFixture>, IDisposable
{
    private readonly FakeServerFixture _fixture;
    private readonly TempFolder _temp = new();
    private readonly CodeCheckers _checkers = CodeCheckers.Create();

    public CheckRunTests(FakeServerFixture fixture) => _fixture = fixture;

    public void Dispose()
    {
        _checkers.Dispose();
        _temp.Dispose();
    }

    private GenerationOptions Options(int maxRepairs = 0, bool includeUsage = false) => new() { Checkers = _checkers, MaxRepairs = maxRepairs, IncludeUsage = includeUsage };

    [Fact]
    public void Each_row_is_checked_in_the_language_of_its_code_block()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        using var client = Runs.Client(server.BaseUrl);
        using var run = new GenerationRun(Options(), client);
        var outcomes = Runs.Drive(run, [TestRow.Instruction("task 1"), TestRow.Instruction("task 2 [[fake:style=unparsable]]"), TestRow.Instruction("task 3 [[fake:style=broken]]")]);

        Assert.Equal(CheckStatus.Ok, outcomes[0].Check!.Status); // the fake fences python
        Assert.Equal("python", outcomes[0].Check!.Language);
        Assert.Equal(CheckStatus.Failed, outcomes[1].Check!.Status);
        Assert.Contains("line ", outcomes[1].Check!.Detail);
        // fenced as powershell: the engine has no PowerShell parser of its own (the cmdlets add theirs)
        Assert.Equal(CheckStatus.Unchecked, outcomes[2].Check!.Status);
        Assert.Contains("no checker for 'powershell'", outcomes[2].Check!.Detail);
        Assert.Equal(new CheckCounts(Ok: 1, Failed: 1, Unchecked: 1, Repaired: 0, RepairRequests: 0), run.GetStatistics().Checks);
        Assert.Equal(3, server.Stats.Requests);
    }

    [Fact]
    public void A_repair_turns_the_broken_answer_into_code_that_parses_and_counts_its_tokens()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        using var client = Runs.Client(server.BaseUrl);
        using var run = new GenerationRun(Options(maxRepairs: 2, includeUsage: true), client);
        var outcome = Runs.Drive(run, [TestRow.Instruction("task 1 [[fake:style=unparsable]]")]).Single();

        Assert.Equal(CheckStatus.Ok, outcome.Check!.Status);
        Assert.Equal(1, outcome.Repairs);
        Assert.DoesNotContain("def broken(:", outcome.Code);
        Assert.Equal(2, server.Stats.Requests);
        var stats = run.GetStatistics();
        Assert.Equal(new CheckCounts(Ok: 1, Failed: 0, Unchecked: 0, Repaired: 1, RepairRequests: 1), stats.Checks);
        // the row's usage holds both requests, as the run's totals do
        Assert.Equal(stats.TotalTokens, outcome.Usage!.Value.TotalTokens);
        Assert.True(outcome.Usage.Value.PromptTokens > 0);
    }

    /// <summary>The client, which stops sending (a full disk) the moment the first answer has come.</summary>
    private sealed class StopsAfterTheFirstAnswer(LlmClient client) : IChatBackend
    {
        private int _answers;
        private IChatBackend Inner => client;

        public int MaxConcurrency => Inner.MaxConcurrency;

        public TimeProvider Time => Inner.Time;

        public (int Limit, int InFlight, long Throttled) ConcurrencySnapshot => Inner.ConcurrencySnapshot;

        public async Task<ChatCallResult> CompleteAsync(PreparedRow row, ChatParameters parameters, CancellationToken cancellationToken)
        {
            var result = await Inner.CompleteAsync(row, parameters, cancellationToken);
            if (Interlocked.Increment(ref _answers) == 1)
            {
                client.StopSending();
            }
            return result;
        }

        public void StopSending() => client.StopSending();
    }

    [Fact]
    public void A_repair_the_run_no_longer_sends_leaves_its_row_not_done()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        using var client = Runs.Client(server.BaseUrl);
        using var run = new GenerationRun(Options(maxRepairs: 2), new StopsAfterTheFirstAnswer(client));
        var outcome = Runs.Drive(run, [TestRow.Instruction("task 1 [[fake:style=unparsable]]")]).Single();

        // not written as done with its broken code: a resume takes the answer from the journal and repairs it
        Assert.False(outcome.Succeeded);
        Assert.Equal(Rows.RowErrorKind.Cancelled, outcome.Error!.Kind);
        Assert.Equal(1, server.Stats.Requests);
        Assert.Equal(0, run.GetStatistics().Succeeded);
    }

    [Fact]
    public void When_repairs_run_out_the_last_code_and_its_failed_check_are_kept()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        using var client = Runs.Client(server.BaseUrl);
        using var run = new GenerationRun(Options(maxRepairs: 2), client);
        var outcome = Runs.Drive(run, [TestRow.Instruction("task 1 [[fake:style=unfixable]]")]).Single();

        Assert.True(outcome.Succeeded); // code came back: it is kept, with the check that says it does not parse
        Assert.Equal(CheckStatus.Failed, outcome.Check!.Status);
        Assert.Equal(2, outcome.Repairs);
        Assert.Contains("def broken(:", outcome.Code);
        Assert.Equal(3, server.Stats.Requests);
        Assert.Equal(new CheckCounts(Ok: 0, Failed: 1, Unchecked: 0, Repaired: 0, RepairRequests: 2), run.GetStatistics().Checks);
    }

    [Fact]
    public void A_repair_goes_through_the_cache_so_a_replay_gets_the_repaired_code_without_a_request()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        string folder = _temp.File("cache");
        using var client = Runs.Client(server.BaseUrl);
        using (var run = new GenerationRun(Options(maxRepairs: 1), new CachingChatBackend(client, new ResponseCache(folder), CacheMode.ReadWrite)))
        {
            Assert.Equal(CheckStatus.Ok, Runs.Drive(run, [TestRow.Instruction("task 1 [[fake:style=unparsable]]")]).Single().Check!.Status);
        }
        Assert.Equal(2, server.Stats.Requests);
        // the repair request: the row's prompt, the broken answer, and the parser's message with its position
        var repair = Directory.EnumerateFiles(folder, "*.json", SearchOption.AllDirectories)
            .Select(f => System.Text.Json.JsonDocument.Parse(File.ReadAllText(f)).RootElement)
            .Where(e => e.TryGetProperty("request", out _))
            .Select(e => e.GetProperty("request").GetProperty("messages").EnumerateArray().ToList())
            .Single(m => m.Count > 1);
        Assert.Equal(["user", "assistant", "user"], repair.Select(m => m.GetProperty("role").GetString()));
        Assert.Contains("def broken(:", repair[1].GetProperty("content").GetString());
        Assert.StartsWith("This does not parse as python: line 3, column ", repair[2].GetProperty("content").GetString());

        using var replay = new GenerationRun(Options(maxRepairs: 1), new CachingChatBackend(client, new ResponseCache(folder, writable: false), CacheMode.ReadOnly));
        var outcome = Runs.Drive(replay, [TestRow.Instruction("task 1 [[fake:style=unparsable]]")]).Single();
        Assert.Equal(CheckStatus.Ok, outcome.Check!.Status);
        Assert.Equal(1, outcome.Repairs);
        Assert.Equal(2, server.Stats.Requests); // nothing more was sent
    }

    [Fact]
    public void A_file_run_writes_the_check_columns_and_counts_them_in_its_summary()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        string input = _temp.WriteTasks("in.csv", 3, i => i == 2 ? "task 2 [[fake:style=unfixable]]" : $"task {i}");
        string output = _temp.File("out.csv");
        using var client = Runs.Client(server.BaseUrl);
        using var run = new GenerationRun(Options(maxRepairs: 1), client);
        var summary = new FileRun(new FileRunOptions { InputPath = input, OutputPath = output }).Execute(run, new RecordingListener(), CancellationToken.None);

        var rows = Files.ReadAll(output, DataFormat.Csv);
        Assert.Equal(["ok", "failed", "ok"], rows.Select(r => Files.Text(r, "generated_code_check")));
        Assert.True(string.IsNullOrEmpty(Files.Text(rows[0], "generated_code_check_detail")));
        Assert.Contains("line ", Files.Text(rows[1], "generated_code_check_detail"));
        Assert.Equal((2L, 1L, 0L, 0L, 1L), (summary.CheckOk, summary.CheckFailed, summary.Unchecked, summary.Repaired, summary.RepairRequests));
    }
}
