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
}
