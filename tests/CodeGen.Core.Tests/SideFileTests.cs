using System.Diagnostics;
using System.Text;
using CodeGen.Core.Batch;
using CodeGen.Core.Llm;
using CodeGen.Core.Running;
using CodeGen.Core.Storage;
using FakeLlm;

namespace CodeGen.Core.Tests;

/// <summary>
/// Attacks on the files a run keeps beside its output, as someone who can write to the output's folder (a team share,
/// the system's temporary folder) would make them: a link to another file planted at a side file's name, a FIFO, a
/// folder that is a link. Each must end in a clear error that names the path, with the link's target byte for byte as
/// it was, nothing sent, and no hang.
/// </summary>
public class SideFileTests : IClassFixture<FakeServerFixture>, IDisposable
{
    private static readonly byte[] VictimBytes = Encoding.UTF8.GetBytes("a file of someone else's: not CodeGen's to write\n");

    private readonly FakeServerFixture _fixture;
    private readonly TempFolder _temp = new();
    private readonly TempFolder _elsewhere = new(); // where links point: another folder of the user's

    public SideFileTests(FakeServerFixture fixture) => _fixture = fixture;

    public void Dispose()
    {
        _temp.Dispose();
        _elsewhere.Dispose();
    }

    private string Victim()
    {
        string path = _elsewhere.File("victim.txt");
        File.WriteAllBytes(path, VictimBytes);
        return path;
    }

    private static void MakeFifo(string path)
    {
        using var process = Process.Start("mkfifo", [path])!;
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
    }

    /// <summary>Runs <paramref name="action"/>, which must not hang on a FIFO: a guard (not a measurement) that fails the test instead of hanging the run.</summary>
    private static T NoHang<T>(Func<T> action)
    {
        var task = Task.Run(action);
        Assert.True(((IAsyncResult)task).AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(60)), "the call blocked (on a FIFO?)");
        return task.GetAwaiter().GetResult();
    }

    private static DataFileException Refused(Action action, string path)
    {
        var error = Assert.Throws<DataFileException>(() => NoHang(() =>
        {
            action();
            return 0;
        }));
        Assert.Equal(DataFileException.UnsafeSideFile, error.ErrorId);
        Assert.Equal(path, error.Path);
        Assert.Contains(path, error.Message);
        return error;
    }

    private FileRunSummary Run(string input, string output, bool resume = false, bool force = false)
    {
        using var client = Runs.Client(_fixture.Server.BaseUrl, concurrency: 4);
        using var run = new GenerationRun(new GenerationOptions { Overwrite = force }, client);
        return NoHang(() => new FileRun(new FileRunOptions { InputPath = input, OutputPath = output, Resume = resume }).Execute(run, new RecordingListener(), CancellationToken.None));
    }

    // --- the rule itself --------------------------------------------------------------------------------------------

    [Fact]
    public void CreateNew_refuses_a_link_dangling_or_not_and_leaves_its_target_alone()
    {
        string victim = Victim();
        string link = _temp.File("state.json.tmp");
        File.CreateSymbolicLink(link, victim);
        Refused(() => SideFile.CreateNew(link).Dispose(), link);
        Assert.Equal(VictimBytes, File.ReadAllBytes(victim));

        string dangling = _temp.File("dangling.tmp");
        string notYet = _elsewhere.File("created-through-a-link.txt");
        File.CreateSymbolicLink(dangling, notYet);
        Refused(() => SideFile.CreateNew(dangling).Dispose(), dangling);
        Assert.False(File.Exists(notYet));
    }

    [Fact]
    public void Existing_side_files_are_opened_only_when_they_are_regular_files()
    {
        string victim = Victim();
        string link = _temp.File("linked.journal");
        File.CreateSymbolicLink(link, victim);
        string fifo = _temp.File("fifo.journal");
        MakeFifo(fifo);
        string folder = _temp.File("folder.journal");
        Directory.CreateDirectory(folder);

        foreach (string path in new[] { link, fifo, folder })
        {
            Refused(() => SideFile.OpenExisting(path)?.Dispose(), path);
            Refused(() => SideFile.OpenOrCreateExclusive(path, truncate: true).Dispose(), path);
            Refused(() => SideFile.ReadAllBytes(path, 1024, "too long"), path);
        }
        Assert.Equal(VictimBytes, File.ReadAllBytes(victim));

        string regular = _temp.Write("regular.journal", "kept");
        using (var stream = SideFile.OpenExisting(regular)!)
        {
            Assert.Equal(4, stream.Length);
        }
        Assert.Null(SideFile.OpenExisting(_temp.File("absent.journal")));
    }

    [Fact]
    public void A_hard_link_or_a_file_of_another_users_is_neither_read_nor_written()
    {
        string victim = Victim();
        string hardLink = _temp.File("out.csv.journal");
        Link(victim, hardLink);
        Refused(() => SideFile.OpenOrCreateExclusive(hardLink, truncate: true).Dispose(), hardLink);
        Refused(() => SideFile.OpenExisting(hardLink)?.Dispose(), hardLink);
        Assert.Equal(VictimBytes, File.ReadAllBytes(victim));

        // a file someone else put there (a journal or rewrite crafted to be merged into the output)
        string planted = _temp.Write("out.csv.resuming", "id,instruction,generated_code\n1,task 1,evil()\n");
        Chown(planted, 65534);
        Refused(() => SideFile.OpenExisting(planted)?.Dispose(), planted);
        string folder = Directory.CreateDirectory(_temp.File("out.csv.batch")).FullName;
        Chown(folder, 65534);
        Refused(() => SideFile.EnsureFolder(folder), folder);
        Refused(() => SideFile.DeleteFolder(folder), folder);
        Assert.True(Directory.Exists(folder));
    }

    private static void Link(string target, string name)
    {
        using var process = Process.Start("ln", [target, name])!;
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
    }

    /// <summary>Gives a file to another user (the tests run as root on Linux, which may).</summary>
    private static void Chown(string path, int uid)
    {
        using var process = Process.Start("chown", [uid.ToString(System.Globalization.CultureInfo.InvariantCulture), path])!;
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"chown needs root: this test gives a file to uid {uid}");
    }

    [Fact]
    public void A_folder_that_is_a_link_is_neither_used_nor_emptied()
    {
        string link = _temp.File("out.csv.batch");
        Directory.CreateSymbolicLink(link, _elsewhere.Path);
        string victim = Victim();
        Refused(() => SideFile.EnsureFolder(link), link);
        Refused(() => SideFile.DeleteFolder(link), link);
        Assert.Equal(VictimBytes, File.ReadAllBytes(victim));
        Assert.True(SideFile.Exists(link));

        // a real folder with links in it: deleting it removes the links, not what they point to
        string folder = _temp.File("other.csv.batch");
        Directory.CreateDirectory(folder);
        Directory.CreateSymbolicLink(Path.Combine(folder, "linked-folder"), _elsewhere.Path);
        File.CreateSymbolicLink(Path.Combine(folder, "state.json"), victim);
        SideFile.DeleteFolder(folder);
        Assert.False(SideFile.Exists(folder));
        Assert.Equal(VictimBytes, File.ReadAllBytes(victim));
    }

    [Fact]
    public void An_exclusive_side_file_is_held_against_another_opener()
    {
        string path = _temp.File("held.journal");
        using var held = SideFile.OpenOrCreateExclusive(path, truncate: false);
        Assert.Throws<FileInUseException>(() => SideFile.OpenOrCreateExclusive(path, truncate: true).Dispose());
        // .NET's own FileShare.None takes the same lock
        Assert.Throws<IOException>(() => new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None).Dispose());
    }

    // --- file runs ---------------------------------------------------------------------------------------------------

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public void A_journal_planted_as_a_link_is_refused_by_Force_and_Resume(bool resume, bool force)
    {
        var server = _fixture.Use(new FakeLlmOptions());
        string input = _temp.WriteTasks("in.csv", 5);
        string output = _temp.File("out.csv");
        File.WriteAllText(output, "id,instruction,generated_code\n1,task 1,x\n");
        byte[] outputBefore = File.ReadAllBytes(output);
        string victim = Victim();
        string journal = AnswerJournal.PathFor(output);
        File.CreateSymbolicLink(journal, victim);

        Refused(() => Run(input, output, resume: resume, force: force), journal);
        Assert.Equal(VictimBytes, File.ReadAllBytes(victim));
        Assert.Equal(outputBefore, File.ReadAllBytes(output));
        Assert.Equal(0, server.Stats.Requests);
    }

    [Fact]
    public void A_journal_planted_as_a_FIFO_is_refused_without_hanging()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        string input = _temp.WriteTasks("in.csv", 3);
        string output = _temp.File("out.jsonl");
        MakeFifo(AnswerJournal.PathFor(output));
        Refused(() => Run(input, output, resume: true), AnswerJournal.PathFor(output));
        Assert.Equal(0, server.Stats.Requests);
        Assert.False(File.Exists(output));
    }

    [Theory]
    [InlineData("out.csv")]
    [InlineData("out.jsonl")]
    public void A_rewrite_planted_as_a_link_is_not_merged_into_the_output(string name)
    {
        var server = _fixture.Use(new FakeLlmOptions());
        string input = _temp.WriteTasks("in.csv", 6);
        string output = _temp.File(name);
        Run(input, output);
        byte[] outputBefore = File.ReadAllBytes(output);
        // text that would parse as rows of the output, so a merge that followed the link would take it in
        string victim = _elsewhere.Write("victim" + Path.GetExtension(name), File.ReadAllText(output).Replace("def ", "stolen "));
        byte[] victimBefore = File.ReadAllBytes(victim);
        string resuming = output + FileRun.ResumingSuffix;
        File.CreateSymbolicLink(resuming, victim);
        server.Stats.Reset();

        Refused(() => Run(input, output, resume: true), resuming);
        Assert.Equal(outputBefore, File.ReadAllBytes(output));
        Assert.Equal(victimBefore, File.ReadAllBytes(victim));
        Assert.Equal(0, server.Stats.Requests);
    }

    [Fact]
    public void A_rewrite_planted_as_a_FIFO_is_refused_without_hanging()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        string input = _temp.WriteTasks("in.csv", 3);
        string output = _temp.File("out.csv");
        Run(input, output);
        byte[] outputBefore = File.ReadAllBytes(output);
        MakeFifo(output + FileRun.ResumingSuffix);
        server.Stats.Reset();
        Refused(() => Run(input, output, resume: true), output + FileRun.ResumingSuffix);
        Assert.Equal(outputBefore, File.ReadAllBytes(output));
        Assert.Equal(0, server.Stats.Requests);
    }

    [Theory]
    [InlineData(DataFormat.Csv)]
    [InlineData(DataFormat.JsonLines)]
    [InlineData(DataFormat.Json)]
    public void A_rewrite_is_created_new_and_never_through_a_link_planted_at_its_name(DataFormat format)
    {
        string victim = Victim();
        string resuming = _temp.File("out" + FileRun.ResumingSuffix);
        File.CreateSymbolicLink(resuming, victim);
        Refused(() => RowFiles.CreateWriter(resuming, format, ["id"], sideFile: true).Dispose(), resuming);
        Assert.Equal(VictimBytes, File.ReadAllBytes(victim));
    }

    // --- batch jobs --------------------------------------------------------------------------------------------------

    private static BatchJobOptions BatchOptions(string input, string output, bool restart = false, bool noWait = false) => new()
    {
        Files = new FileRunOptions { InputPath = input, OutputPath = output },
        Generation = new GenerationOptions { Overwrite = restart },
        Restart = restart,
        NoWait = noWait,
        PollInterval = TimeSpan.FromMilliseconds(20),
    };

    private static FileRunSummary? RunJob(LlmClient client, BatchJobOptions options)
    {
        var job = new BatchJob(options, BatchService.For(client), client.Endpoint.DisplayUri, client.Endpoint.Api.Api, client.Endpoint.Model);
        return NoHang(() => job.RunAsync(new RecordingBatchListener(), CancellationToken.None).GetAwaiter().GetResult().Summary);
    }

    [Fact]
    public void A_batch_job_never_writes_through_a_link_planted_at_its_old_temporary_name()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        string input = _temp.WriteTasks("in.csv", 7); // a size no other batch test of this class makes
        string output = _temp.File("out.csv");
        using var client = Runs.Client(server.BaseUrl);
        // a job under way (submitted, not waited for): its folder and state are there, and its state is saved again
        Assert.Null(RunJob(client, BatchOptions(input, output, noWait: true)));
        string victim = Victim();
        File.CreateSymbolicLink(Path.Combine(BatchJobState.DirectoryFor(output), BatchJobState.StateFileName + ".tmp"), victim);

        var summary = RunJob(client, BatchOptions(input, output));
        Assert.Equal(7, summary!.Generated);
        Assert.Equal(VictimBytes, File.ReadAllBytes(victim));
    }

    [Fact]
    public void A_batch_folder_or_state_planted_as_a_link_is_refused()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        string input = _temp.WriteTasks("in.csv", 8);
        string output = _temp.File("out.csv");
        string folder = BatchJobState.DirectoryFor(output);
        string victim = Victim();
        using var client = Runs.Client(server.BaseUrl);

        Directory.CreateSymbolicLink(folder, _elsewhere.Path);
        Refused(() => RunJob(client, BatchOptions(input, output)), folder);
        Refused(() => RunJob(client, BatchOptions(input, output, restart: true)), folder);
        Assert.Equal([victim], Directory.GetFiles(_elsewhere.Path));
        Assert.Equal(VictimBytes, File.ReadAllBytes(victim));

        Directory.Delete(folder);
        Directory.CreateDirectory(folder);
        string state = Path.Combine(folder, BatchJobState.StateFileName);
        File.CreateSymbolicLink(state, victim);
        Refused(() => RunJob(client, BatchOptions(input, output)), state);
        Assert.Equal(VictimBytes, File.ReadAllBytes(victim));
        Assert.Equal(0, server.Stats.Requests);
    }

    // --- the response cache ------------------------------------------------------------------------------------------

    private static List<RowOutcome> CacheRun(LlmClient client, ResponseCache cache, IEnumerable<string> tasks, CacheMode mode = CacheMode.ReadWrite)
    {
        using var run = new GenerationRun(new GenerationOptions(), new CachingChatBackend(client, cache, mode));
        return NoHang(() => Runs.Drive(run, tasks.Select(TestRow.Instruction)));
    }

    [Fact]
    public void A_cache_shard_folder_that_is_a_link_gets_no_entries()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        using var client = Runs.Client(server.BaseUrl);
        string cacheFolder = Directory.CreateDirectory(_temp.File("cache")).FullName;
        var tasks = Enumerable.Range(1, 40).Select(n => $"task {n}").ToList();
        CacheRun(client, new ResponseCache(cacheFolder), tasks);
        // every shard the run made is now a link to a folder elsewhere
        foreach (var shard in Directory.GetDirectories(cacheFolder))
        {
            Directory.Delete(shard, recursive: true);
            Directory.CreateSymbolicLink(shard, _elsewhere.Path);
        }
        server.Stats.Reset();
        var cache = new ResponseCache(cacheFolder);
        var outcomes = CacheRun(client, cache, tasks);
        Assert.All(outcomes, o => Assert.Null(o.Error)); // answered (live): the cache is only a cache
        Assert.Equal(40, server.Stats.Requests);
        Assert.Empty(Directory.GetFileSystemEntries(_elsewhere.Path));
        Assert.Equal(0, cache.Stored);
        Assert.Contains(cache.Unreadable, p => p.Contains("is a symbolic link", StringComparison.Ordinal));
    }

    [Fact]
    public void A_FIFO_as_a_cache_entry_or_manifest_never_hangs_the_run()
    {
        var server = _fixture.Use(new FakeLlmOptions());
        using var client = Runs.Client(server.BaseUrl);
        string cacheFolder = Directory.CreateDirectory(_temp.File("cache")).FullName;
        CacheRun(client, new ResponseCache(cacheFolder), ["task 1", "task 2"]);
        string entry = Directory.GetFiles(cacheFolder, "*.json", SearchOption.AllDirectories).First(f => Path.GetFileName(f) != ResponseCache.ManifestName);
        File.Delete(entry);
        MakeFifo(entry);

        // a replay: the row of that entry fails (nothing sent), the other is answered
        server.Stats.Reset();
        var cache = new ResponseCache(cacheFolder, writable: false);
        var outcomes = CacheRun(client, cache, ["task 1", "task 2"], CacheMode.ReadOnly);
        var failed = Assert.Single(outcomes, o => o.Error is not null);
        Assert.Equal(Rows.RowErrorKind.CacheMiss, failed.Error!.Kind);
        Assert.Contains("is a FIFO", failed.Error.Message);
        Assert.Equal(0, server.Stats.Requests);

        string manifest = Path.Combine(cacheFolder, ResponseCache.ManifestName);
        File.Delete(manifest);
        MakeFifo(manifest);
        Refused(() => new ResponseCache(cacheFolder), manifest);
    }
}
