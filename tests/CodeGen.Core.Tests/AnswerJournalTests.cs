using CodeGen.Core.Llm;
using CodeGen.Core.Running;
using CodeGen.Core.Storage;

namespace CodeGen.Core.Tests;

public class AnswerJournalTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void A_second_run_cannot_open_the_journal_of_an_output_in_use_and_leaves_its_answers_intact()
    {
        string output = _temp.File("out.jsonl");
        var answer = new ChatAnswer { Content = "```\nkept\n```", FinishReason = "stop" };
        using (var first = AnswerJournal.Open(output, recover: false))
        {
            first.Append(1, "0123456789abcdef01234567", answer);
            first.Append(2, "0123456789abcdef01234567", answer);
            string path = AnswerJournal.PathFor(output);
            Assert.True(SpinWait.SpinUntil(() => new FileInfo(path).Length > 0, TimeSpan.FromSeconds(30)), "the answers did not reach the disk");
            long written = new FileInfo(path).Length;

            // a second run, with -Force (a new journal) or -Resume (the same one): refused, nothing truncated
            foreach (bool recover in new[] { false, true })
            {
                var refused = Assert.Throws<DataFileException>(() => AnswerJournal.Open(output, recover));
                Assert.Equal(DataFileException.OutputInUse, refused.ErrorId);
                Assert.Equal(output, refused.Path);
                Assert.Contains(path, refused.Message);
                Assert.Equal(written, new FileInfo(path).Length); // not truncated by the refused open
            }
        }

        using var resumed = AnswerJournal.Open(output, recover: true);
        Assert.Equal(2, resumed.Recovered);
        Assert.True(resumed.TryTake(2, "0123456789abcdef01234567", out var kept));
        Assert.Equal(answer.Content, kept!.Content);
        Assert.Null(resumed.Failure);
    }

    /// <summary>The journal's hash as it was first written (and as journals on disk hold it): SHA-256 of the parts and NULs, 12 bytes in hex.</summary>
    private static string HashAsWritten(IReadOnlyList<Prompting.ChatMessage> messages, ChatParameters? parameters)
    {
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        if (parameters is not null)
        {
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"{parameters.Temperature:R}|{parameters.MaxTokens}|{parameters.ReasoningEffort}|{parameters.AdditionalBody?.ToJson()}")));
            hash.AppendData([0]);
        }
        foreach (var message in messages)
        {
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(message.Role));
            hash.AppendData([0]);
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(message.Content));
            hash.AppendData([0]);
        }
        return Convert.ToHexString(hash.GetHashAndReset(), 0, 12).ToLowerInvariant();
    }

    [Theory]
    [InlineData(100)]
    [InlineData(AnswerJournal.OneBufferBytes)] // hashed in pieces: pairs of surrogates fall across the pieces' edges
    public void The_hash_of_a_rows_messages_is_the_one_journals_on_disk_hold(int length)
    {
        // emoji (pairs of surrogates), a lone surrogate (written as U+FFFD) and accents, repeated past the pieces' size
        string content = string.Concat(Enumerable.Repeat("añ😀b\ud800c", length / 6 + 1))[..length] + "😀";
        var messages = new[] { Prompting.ChatMessage.System("Be brief."), Prompting.ChatMessage.User(content) };
        var parameters = new ChatParameters(0.2, 256);
        Assert.Equal(HashAsWritten(messages, parameters), AnswerJournal.HashOf(messages, parameters));
        Assert.Equal(HashAsWritten(messages, null), AnswerJournal.HashOf(messages));
    }
}
