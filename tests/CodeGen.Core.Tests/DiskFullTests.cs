using CodeGen.Core.Batch;
using CodeGen.Core.Llm;
using CodeGen.Core.Running;
using CodeGen.Core.Storage;
using FakeLlm;

namespace CodeGen.Core.Tests;

/// <summary>
/// A disk that fills while a run writes: every write of a chosen file fails (as ENOSPC does) from some point on,
/// injected through <see cref="DiskWrites.Fault"/>, which flows with the test's execution context only. The run must
/// stop sending at the first failed write, keep the answers of the requests already sent, stop with OutputWriteFailed
/// naming the file, and leave what it wrote resumable: a resume pays again for nothing it could keep.
/// </summary>
public class DiskFullTests : IClassFixture<FakeServerFixture>, IDisposable
{
    private const int Rows = 300;
    private const int Throttle = 8;

    private readonly FakeServerFixture _fixture;
    private readonly TempFolder _temp = new();

    public DiskFullTests(FakeServerFixture fixture) => _fixture = fixture;

    public void Dispose() => _temp.Dispose();

    private static IOException NoSpace(string path) => new($"No space left on device : '{path}'", 28);

    /// <summary>The requests the server had received when the disk was first seen full (-1: not yet).</summary>
    private long _sentWhenFull = -1;

    /// <summary>Writes of <paramref name="target"/> (or reservations of room for it) fail from the <paramref name="after"/>+1-th on.</summary>
    private void FillDiskFor(FakeLlmServer server, string target, bool reservation, int after)
    {
        int writes = 0;
        DiskWrites.Fault.Value = (path, reserving) =>
        {
            if (path != target || reserving != reservation || Interlocked.Increment(ref writes) <= after)
            {
                return null;
            }
            Interlocked.CompareExchange(ref _sentWhenFull, server.Stats.Requests, -1);
            return NoSpace(path);
        };
    }

    private FileRunSummary Run(FakeLlmServer server, string input, string output, bool resume = false)
    {
        using var client = Runs.Client(server.BaseUrl, concurrency: Throttle);
        using var run = new GenerationRun(new GenerationOptions(), client);
        return new FileRun(new FileRunOptions { InputPath = input, OutputPath = output, Resume = resume }).Execute(run, new RecordingListener(), CancellationToken.None);
    }

    /// <summary>Where the disk is seen to be full first: a write of the output, the journal's reservation of room for the next answers, or a write of the journal.</summary>
    public enum Failing
    {
        Output,
        JournalRoom,
        JournalWrite,
    }

    [Theory]
    [InlineData("out.csv", Failing.Output)]
    [InlineData("out.jsonl", Failing.Output)]
    [InlineData("out.json", Failing.Output)]
    [InlineData("out.csv", Failing.JournalRoom)]
    [InlineData("out.jsonl", Failing.JournalWrite)]
    public void A_full_disk_stops_the_sending_at_once_keeps_what_was_in_flight_and_a_resume_pays_nothing_twice(string name, Failing failing)
    {
        var server = _fixture.Use(new FakeLlmOptions { LatencyMs = 20, JitterMs = 20, Seed = 11 });
        string input = _temp.WriteTasks("in.csv", Rows);
        string output = _temp.File(name);
        string journal = AnswerJournal.PathFor(output);
        // the journal reserves room for hundreds of answers at a time: the first reservation is the one that finds the disk full
        FillDiskFor(server, failing == Failing.Output ? output : journal, reservation: failing == Failing.JournalRoom, after: failing == Failing.JournalRoom ? 0 : 3);

        var error = Assert.Throws<DataFileException>(() => Run(server, input, output));
        Assert.Equal(DataFileException.OutputWriteFailed, error.ErrorId);
        Assert.Equal(failing == Failing.Output ? output : journal, error.Path);
        Assert.Contains("the disk is full", error.Message);
        Assert.Contains("No space left on device", error.Message);
        // it stopped sending at once: what was sent after the disk was seen full is at most what was already waiting for a free slot
        long sentAfter = server.Stats.Requests - Interlocked.Read(ref _sentWhenFull);
        Assert.True(sentAfter <= Throttle, $"the run went on sending after the disk filled: {sentAfter} more requests");

        // space is freed: the resume finishes every row, paying again at most what was in flight when the disk filled
        DiskWrites.Fault.Value = null;
        Run(server, input, output, resume: true);
        var format = DataFormats.Resolve(output, null);
        var rows = Files.ReadAll(output, format);
        Assert.Equal(Rows, rows.Count);
        for (int i = 0; i < Rows; i++)
        {
            Assert.Equal(FakeLlmServer.CodeFor($"task {i + 1}"), Files.Text(rows[i], "generated_code"));
        }
        long repaid = server.Stats.Requests - Rows;
        // the run sent nothing more, but waited for the requests already sent, and kept their answers: in the journal
        // (when the output failed, or in the room the journal had reserved when it could reserve no more) or in the
        // output. So nothing is paid twice. A journal that cannot write at all (a file system without fallocate, which
        // reserves no room) loses the answers it could not write that the output, kept in input order, could not take
        // either: at most one per request slot in flight, and those of its last tick (10 ms)
        int most = failing switch
        {
            Failing.Output => 0,
            Failing.JournalRoom => 0,
            Failing.JournalWrite => 2 * Throttle,
            _ => throw new ArgumentOutOfRangeException(nameof(failing)),
        };
        Assert.True(repaid <= most, $"{repaid} answers were paid for twice (more than {most})");
        Assert.False(File.Exists(AnswerJournal.PathFor(output)));
    }

    [Fact]
    public void Rows_waiting_to_try_again_do_not_hold_up_the_stop_and_are_not_sent_again()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        // the first two rows are refused with a 429: they wait to try again, on a clock that never moves by itself
        string input = _temp.WriteTasks("in.csv", 40, n => n <= 2 ? $"task {n} [[fake:status=429]]" : $"task {n}");
        string output = _temp.File("out.csv");
        FillDiskFor(server, AnswerJournal.PathFor(output), reservation: true, after: 0);
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        using var client = Runs.Client(server.BaseUrl, concurrency: 4, retries: 3, clock: clock);
        using var run = new GenerationRun(new GenerationOptions(), client);
        var running = Task.Run(() => new FileRun(new FileRunOptions { InputPath = input, OutputPath = output }).Execute(run, new RecordingListener(), CancellationToken.None));

        // a bound on a hang, not a measure: a stop that waited for the rows to try again would wait for ever on this clock
        Assert.True(((IAsyncResult)running).AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(60)), "the stop waited for rows that were to be tried again");
        var error = Assert.IsType<DataFileException>(Assert.Throws<AggregateException>(() => running.Wait()).InnerException);
        Assert.Equal(DataFileException.OutputWriteFailed, error.ErrorId);
        Assert.Equal(AnswerJournal.PathFor(output), error.Path);
        // asked once each (every attempt of theirs is a 429): their retries were never sent
        Assert.Equal(2, server.Stats.StatusCounts.GetValueOrDefault(429));
    }

    [Fact]
    public void A_batch_state_the_disk_refuses_stops_the_job_with_OutputWriteFailed()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        string input = _temp.WriteTasks("in.csv", 9); // a size no other batch test of this class makes
        string output = _temp.File("out.csv");
        string state = Path.Combine(BatchJobState.DirectoryFor(output), BatchJobState.StateFileName);
        DiskWrites.Fault.Value = (path, _) => path.StartsWith(state, StringComparison.Ordinal) ? NoSpace(path) : null;
        using var client = Runs.Client(server.BaseUrl);
        var job = new BatchJob(new BatchJobOptions
        {
            Files = new FileRunOptions { InputPath = input, OutputPath = output },
            Generation = new GenerationOptions(),
            PollInterval = TimeSpan.FromMilliseconds(20),
        }, BatchService.For(client), client.Endpoint.DisplayUri, client.Endpoint.Api.Api, client.Endpoint.Model);
        var error = Assert.Throws<DataFileException>(() => job.RunAsync(new RecordingBatchListener(), CancellationToken.None).GetAwaiter().GetResult());
        Assert.Equal(DataFileException.OutputWriteFailed, error.ErrorId);
        Assert.Equal(state, error.Path);
        Assert.Equal(0, server.Stats.Requests); // nothing was submitted: the state that would remember it could not be kept
    }

    [Fact]
    public void Nothing_reaches_the_output_after_a_failed_write_even_when_space_comes_back()
    {
        string path = _temp.File("out.jsonl");
        int writes = 0;
        // only the second write fails: a disk that was full for an instant
        DiskWrites.Fault.Value = (target, _) => target == path && Interlocked.Increment(ref writes) == 2 ? NoSpace(target) : null;
        var writer = RowFiles.CreateWriter(path, DataFormat.JsonLines, ["id"]);
        writer.Write(Files.Row(("id", "1")));
        writer.Flush();
        long whole = new FileInfo(path).Length;
        writer.Write(Files.Row(("id", "2")));
        Assert.ThrowsAny<IOException>(writer.Flush);
        writer.Write(Files.Row(("id", "3")));
        Assert.ThrowsAny<IOException>(writer.Flush);
        Assert.ThrowsAny<IOException>(writer.Dispose);
        Assert.Equal(whole, new FileInfo(path).Length); // the file stops where the failure found it
        // and it was closed: another writer may take it (a lock, or a Windows file, would otherwise stay open)
        using var again = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
    }

    [Fact]
    public void A_rewrite_that_the_disk_refuses_is_closed_so_the_next_resume_in_the_same_session_can_make_it()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        string input = _temp.WriteTasks("in.csv", 6, i => i == 3 ? "task 3 [[fake:status=500;times=1]]" : $"task {i}");
        string output = _temp.File("out.jsonl");
        Run(server, input, output); // row 3 fails: a resume rewrites the output
        string resuming = output + FileRun.ResumingSuffix;
        DiskWrites.Fault.Value = (path, _) => path == resuming ? NoSpace(path) : null;
        var error = Assert.Throws<DataFileException>(() => Run(server, input, output, resume: true));
        Assert.Equal(DataFileException.OutputWriteFailed, error.ErrorId);
        Assert.Equal(resuming, error.Path);

        DiskWrites.Fault.Value = null;
        Run(server, input, output, resume: true);
        var rows = Files.ReadAll(output, DataFormat.JsonLines);
        Assert.Equal(6, rows.Count);
        Assert.All(rows, row => Assert.False(string.IsNullOrEmpty(Files.Text(row, "generated_code"))));
    }
}
