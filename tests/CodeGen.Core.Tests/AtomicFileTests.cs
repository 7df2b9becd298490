using System.Text;
using CodeGen.Core.Storage;

namespace CodeGen.Core.Tests;

public sealed class AtomicFileTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    private string[] Leftovers(string except) => Directory.GetFiles(_temp.Path).Where(f => f != except).ToArray();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Writes_the_whole_file_and_leaves_no_temporary_file(bool flushToDisk)
    {
        string path = _temp.File("out.bin");
        var content = new byte[300_000]; // more than the buffer: written in several pieces
        new Random(7).NextBytes(content);
        AtomicFile.Write(path, stream => stream.Write(content), flushToDisk);
        Assert.Equal(content, File.ReadAllBytes(path));
        Assert.Empty(Leftovers(path));
    }

    [Fact]
    public void Replaces_an_existing_file()
    {
        string path = _temp.Write("state.json", "old content that is longer than the new one");
        AtomicFile.Write(path, stream => stream.Write("new"u8), flushToDisk: true);
        Assert.Equal("new", File.ReadAllText(path));
        Assert.Empty(Leftovers(path));
    }

    [Fact]
    public void A_writer_that_throws_leaves_the_old_file_intact_and_no_temporary_file()
    {
        string path = _temp.Write("state.json", "old");
        var thrown = Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, stream =>
        {
            stream.Write("half of the new"u8);
            stream.Flush();
            throw new InvalidOperationException("the writer failed");
        }, flushToDisk: true));
        Assert.Equal("the writer failed", thrown.Message);
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Empty(Leftovers(path));
    }

    [Fact]
    public void A_writer_that_throws_creates_no_file_where_there_was_none()
    {
        string path = _temp.File("new.json");
        var error = Assert.Throws<DataFileException>(() => AtomicFile.Write(path, _ => throw new IOException("disk full")));
        // said as a write of the file (a side file's stream knows no path), with the system's reason
        Assert.Equal((DataFileException.OutputWriteFailed, path), (error.ErrorId, error.Path));
        Assert.Contains("disk full", error.Message);
        Assert.Empty(Directory.GetFiles(_temp.Path));
    }

    [Fact]
    public void A_writer_may_close_the_stream_itself()
    {
        string path = _temp.File("rows.jsonl");
        AtomicFile.Write(path, stream =>
        {
            using var writer = new StreamWriter(stream, new UTF8Encoding(false)); // closes the stream, as a row writer does
            writer.Write("{\"id\":1}\n");
        }, flushToDisk: true);
        Assert.Equal("{\"id\":1}\n", File.ReadAllText(path));
        Assert.Empty(Leftovers(path));
    }

    [Fact]
    public void Temporary_names_are_beside_the_file_and_never_the_same()
    {
        string path = _temp.File("entry.json");
        string first = AtomicFile.TemporaryPathFor(path), second = AtomicFile.TemporaryPathFor(path);
        Assert.NotEqual(first, second);
        Assert.Equal(_temp.Path, Path.GetDirectoryName(first));
        Assert.StartsWith(path + ".", first, StringComparison.Ordinal);
        Assert.EndsWith(".tmp", first, StringComparison.Ordinal);
        // 128 random bits after the process id: a name no one can plant a link at in advance
        Assert.Matches($@"^{System.Text.RegularExpressions.Regex.Escape(path)}\.{Environment.ProcessId}\.[0-9a-f]{{32}}\.tmp$", first);
    }

    [Fact]
    public async Task WriteAsync_writes_the_whole_file_and_replaces_an_existing_one()
    {
        string path = _temp.Write("result.jsonl", "old content, longer than the new");
        await AtomicFile.WriteAsync(path, async (stream, token) => await stream.WriteAsync("line 1\nline 2\n"u8.ToArray(), token), CancellationToken.None);
        Assert.Equal("line 1\nline 2\n", File.ReadAllText(path));
        Assert.Empty(Leftovers(path));
    }

    [Fact]
    public async Task WriteAsync_that_fails_or_is_cancelled_leaves_the_old_file_intact_and_no_temporary_file()
    {
        string path = _temp.Write("result.jsonl", "old");
        await Assert.ThrowsAsync<HttpRequestException>(() => AtomicFile.WriteAsync(path, async (stream, token) =>
        {
            await stream.WriteAsync("partial"u8.ToArray(), token);
            throw new HttpRequestException("connection reset");
        }, CancellationToken.None));
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Empty(Leftovers(path));

        using var stop = new CancellationTokenSource();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => AtomicFile.WriteAsync(path, async (stream, token) =>
        {
            await stream.WriteAsync("partial"u8.ToArray(), token);
            stop.Cancel();
            token.ThrowIfCancellationRequested();
        }, stop.Token, flushToDisk: true));
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Empty(Leftovers(path));
    }

    [Fact]
    public void Leftovers_of_a_killed_writer_are_removed_and_nothing_else()
    {
        string path = _temp.Write("out.csv", "id\n1\n");
        using var exited = System.Diagnostics.Process.Start("true")!;
        exited.WaitForExit();
        string Temporary(int pid) => $"{path}.{pid}.{new string('a', 32)}.tmp";
        string dead = _temp.Write(Path.GetFileName(Temporary(exited.Id)), "half a merge");
        string live = _temp.Write(Path.GetFileName(Temporary(Environment.ProcessId)), "a write under way");
        string other = _temp.Write("out.csv.notes.tmp", "someone else's");
        string victim = _temp.Write("victim.txt", "kept");
        string linked = Temporary(exited.Id).Replace(new string('a', 32), new string('b', 32), StringComparison.Ordinal);
        File.CreateSymbolicLink(linked, victim);

        Assert.Equal(1, AtomicFile.RemoveLeftovers(path));
        Assert.False(File.Exists(dead));
        Assert.True(File.Exists(live));
        Assert.True(File.Exists(other));
        Assert.True(new FileInfo(linked).LinkTarget is not null); // a link is not CodeGen's temporary file: left alone
        Assert.Equal("kept", File.ReadAllText(victim));
    }

    [Fact]
    public void Commit_puts_a_finished_temporary_file_in_place()
    {
        string path = _temp.Write("out.csv", "old");
        string temporary = _temp.Write("out.csv.resuming", "new");
        AtomicFile.Commit(temporary, path);
        Assert.Equal("new", File.ReadAllText(path));
        Assert.False(File.Exists(temporary));
    }
}
