using System.Diagnostics;
using System.Globalization;
using CodeGen.Core.Checking;
using Microsoft.Extensions.Time.Testing;

namespace CodeGen.Core.Tests;

public class CodeCheckTests : IDisposable
{
    private readonly CodeCheckers _checkers = CodeCheckers.Create();
    private readonly TempFolder _temp = new();

    public void Dispose()
    {
        _checkers.Dispose();
        _temp.Dispose();
    }

    private async Task<CheckResult> Check(string code, string? language, string? fenceTag = null)
        => await _checkers.CheckAsync(code, language, fenceTag, CancellationToken.None);

    [Theory]
    [InlineData("csharp", "using System;\nConsole.WriteLine(\"hi\");\n")]
    [InlineData("C#", "namespace Tools;\n\npublic static class Sums\n{\n    public static int Add(int a, int b) => a + b;\n}\n")]
    [InlineData("cs", "var total = 0;\nfor (int i = 0; i < 3; i++) total += i;\ntotal")] // script style: an expression last
    [InlineData("json", "{\"name\": \"svc\", \"ports\": [80, 443]}")]
    [InlineData("python", "def add(a, b):\n    return a + b\n\nprint(add(1, 2))\n")]
    [InlineData("py", "import os\nfor name in os.listdir('.'):\n    print(name)\n")]
    [InlineData("bash", "for f in *.log; do\n  gzip \"$f\"\ndone\n")]
    [InlineData("sh", "if [ -f /etc/hosts ]; then echo yes; fi\n")]
    public async Task Code_that_parses_is_ok(string language, string code)
    {
        var result = await Check(code, language);
        Assert.Equal(CheckStatus.Ok, result.Status);
        Assert.Equal("ok", result.StatusText);
        Assert.Equal(string.Empty, result.Detail);
    }

    [Theory]
    [InlineData("csharp", "public class A {\n    void M() { int x = ; }\n}\n", "line 2, column ")]
    [InlineData("json", "{\n  \"a\": 1,\n}", "line 3, column 1:")]
    [InlineData("python", "def f(:\n    pass\n", "line 1, column ")]
    [InlineData("python", "if True:\nprint('x')\n", "line 2")]
    [InlineData("bash", "if [ -f x ]; then\n  echo y\n", "syntax error")]
    [InlineData("bash", "echo ok\nfi\n", "line 2")]
    public async Task Code_with_a_syntax_error_fails_with_the_parsers_message_and_position(string language, string code, string expected)
    {
        var result = await Check(code, language);
        Assert.Equal(CheckStatus.Failed, result.Status);
        Assert.Equal("failed", result.StatusText);
        Assert.Contains(expected, result.Detail);
    }

    [Fact]
    public async Task The_fence_tag_names_the_language_when_no_language_is_given_and_the_language_wins_over_it()
    {
        Assert.Equal(CheckStatus.Ok, (await Check("print('x')", language: null, fenceTag: "python")).Status);
        Assert.Equal(CheckStatus.Failed, (await Check("print('x')", language: "json", fenceTag: "python")).Status);
    }

    [Fact]
    public async Task Code_of_an_unknown_language_or_of_no_language_is_unchecked_saying_why()
    {
        var unknown = await Check("puts 'hi'", "ruby");
        Assert.Equal(CheckStatus.Unchecked, unknown.Status);
        Assert.Equal("unchecked", unknown.StatusText);
        Assert.Contains("no checker for 'ruby'", unknown.Detail);

        var none = await Check("something", language: null, fenceTag: null);
        Assert.Equal(CheckStatus.Unchecked, none.Status);
        Assert.Contains("no language", none.Detail);
    }

    [Fact]
    public async Task Without_the_program_python_code_is_unchecked_saying_why()
    {
        using var checker = new PythonChecker(Path.Combine(_temp.Path, "no-such-python3"));
        var result = await checker.CheckAsync("print('x')", CancellationToken.None);
        Assert.Equal(CheckStatus.Unchecked, result.Status);
        Assert.Contains("could not be started", result.Detail);
        Assert.Contains("no-such-python3", result.Detail);
    }

    [Fact]
    public async Task One_python_process_checks_every_row_even_many_at_once()
    {
        using var checker = new PythonChecker();
        var results = Enumerable.Range(0, 200)
            .Select(i => checker.CheckAsync(i % 2 == 0 ? $"x = {i}\n" : $"x = ({i}\n", CancellationToken.None).AsTask())
            .ToArray();
        await Task.WhenAll(results);
        int? pid = checker.ProcessId;
        Assert.NotNull(pid);
        for (int i = 0; i < results.Length; i++)
        {
            Assert.Equal(i % 2 == 0 ? CheckStatus.Ok : CheckStatus.Failed, (await results[i]).Status); // answers stay with their requests
        }
        Assert.Equal(pid, checker.ProcessId); // the same process throughout
    }

    [Fact]
    public async Task A_checker_process_that_dies_is_started_again()
    {
        using var checker = new PythonChecker();
        Assert.Equal(CheckStatus.Ok, (await checker.CheckAsync("x = 1", CancellationToken.None)).Status);
        int first = checker.ProcessId!.Value;
        using (var process = Process.GetProcessById(first))
        {
            process.Kill();
            process.WaitForExit();
        }
        var afterKill = await checker.CheckAsync("x = 2", CancellationToken.None);
        if (afterKill.Status == CheckStatus.Unchecked)
        {
            // the request went to the dead process before its end was noticed: the next one gets a new process
            Assert.Contains("stopped", afterKill.Detail);
            afterKill = await checker.CheckAsync("x = 2", CancellationToken.None);
        }
        Assert.Equal(CheckStatus.Ok, afterKill.Status);
        Assert.NotEqual(first, checker.ProcessId);
    }

    [Fact]
    public async Task Hostile_code_is_parsed_never_run()
    {
        string marker = Path.Combine(_temp.Path, "ran");
        // each would create the marker file if it ran
        Assert.Equal(CheckStatus.Ok, (await Check($"open({System.Text.Json.JsonSerializer.Serialize(marker)}, 'w').write('x')\n", "python")).Status);
        Assert.Equal(CheckStatus.Ok, (await Check($"touch '{marker}'\n", "bash")).Status);
        // a script that closes the checker's own structure early is still only parsed
        Assert.Equal(CheckStatus.Failed, (await Check($"}}\ntouch '{marker}'\n{{\n", "bash")).Status);
        Assert.Equal(CheckStatus.Failed, (await Check("echo a\0b", "bash")).Status);
        Assert.False(File.Exists(marker));
    }

    [Fact]
    public async Task A_flood_of_errors_is_cut_to_the_first_ones()
    {
        string code = string.Concat(Enumerable.Repeat("int x = ;\n", 50));
        var result = await Check(code, "csharp");
        Assert.Equal(CheckStatus.Failed, result.Status);
        Assert.EndsWith("more", result.Detail);
        Assert.True(result.Detail.Split("; ").Length <= CheckResult.MaxMessages + 1);
    }

    [Theory]
    [InlineData("zsh", "print -P '%F{red}x%f'")]
    [InlineData("jsonc", "{ // a comment\n \"a\": 1 }")]
    [InlineData("python2", "print 'x'")]
    public async Task A_dialect_no_checker_parses_is_unchecked_not_failed(string language, string code)
    {
        var result = await Check(code, language);
        Assert.Equal(CheckStatus.Unchecked, result.Status);
        Assert.Contains($"no checker for '{language}'", result.Detail);
    }

    [Fact]
    public async Task Text_that_is_not_valid_UTF_16_is_handed_over_escaped_and_the_checks_after_it_stay_in_step()
    {
        // a lone surrogate (PowerShell strings can hold one): escaped in the request, never a broken line
        var results = await Task.WhenAll(new[] { "x = 1", "x = '\ud800'", "x = (", "y = 2", "z = '\udc00' +" }.Select(code => Check(code, "python")));
        Assert.Equal([CheckStatus.Ok, CheckStatus.Ok, CheckStatus.Failed, CheckStatus.Ok, CheckStatus.Failed], results.Select(r => r.Status));
    }

    [Fact]
    public async Task A_carriage_return_in_bash_messages_does_not_shift_answers_to_other_rows()
    {
        // bash -n quotes the offending line back; a CR in it must not end the answer early
        var codes = Enumerable.Range(0, 40).Select(i => i % 4 == 1 ? $"echo )\rX{i}\n" : i % 4 == 3 ? "if true; then echo y\n" : $"echo {i}\n").ToList();
        var results = await Task.WhenAll(codes.Select(code => Check(code, "bash")));
        for (int i = 0; i < codes.Count; i++)
        {
            Assert.Equal(i % 2 == 1 ? CheckStatus.Failed : CheckStatus.Ok, results[i].Status);
        }
        Assert.Contains("\r", results[1].Detail); // the CR stays inside its own answer
    }

    /// <summary>A checker whose process stalls on the code "stall" (a parser a hostile answer can hang) and answers the rest.</summary>
    private sealed class StallingChecker(TimeProvider clock) : ProcessChecker("bash")
    {
        public override string Language => "stall";

        public override IReadOnlyCollection<string> Tags { get; } = ["stall"];

        protected override IReadOnlyList<string> Arguments =>
            ["--norc", "--noprofile", "-c", "while IFS=' ' read -r number code; do if [ \"$code\" = stall ]; then sleep 600; fi; printf '%s ok\\n' \"$number\"; done"];

        protected override byte[] Request(long number, string code) => System.Text.Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{number} {code}\n"));

        protected override CheckResult Parse(string answer) => answer == "ok" ? CheckResult.Ok(Language) : CheckResult.Failed(Language, [answer]);

        public TimeProvider TestClock => clock;
    }

    [Fact]
    public async Task A_check_that_stalls_the_process_is_stopped_on_the_clock_and_the_checks_behind_it_go_to_a_new_process()
    {
        var clock = new FakeTimeProvider();
        using var checker = new StallingChecker(clock) { CheckTimeout = TimeSpan.FromSeconds(10), Clock = clock };
        Assert.Equal(CheckStatus.Ok, (await checker.CheckAsync("first", CancellationToken.None)).Status);
        int first = checker.ProcessId!.Value;

        var stalled = checker.CheckAsync("stall", CancellationToken.None).AsTask();
        var behind = checker.CheckAsync("after", CancellationToken.None).AsTask();
        clock.Advance(TimeSpan.FromSeconds(9)); // not yet: the timeout counts from when the stalled check reached the process
        Assert.False(stalled.IsCompleted);
        clock.Advance(TimeSpan.FromSeconds(2));

        var timedOut = await stalled.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(CheckStatus.Unchecked, timedOut.Status);
        Assert.Contains("took longer than 10 s", timedOut.Detail);
        Assert.Equal(CheckStatus.Ok, (await behind.WaitAsync(TimeSpan.FromSeconds(30))).Status); // answered by the next process
        Assert.NotEqual(first, checker.ProcessId);
        // the stalled one is gone (once the system has reaped it)
        Assert.True(SpinWait.SpinUntil(() =>
        {
            try
            {
                using var process = Process.GetProcessById(first);
                return process.HasExited;
            }
            catch (ArgumentException)
            {
                return true;
            }
        }, TimeSpan.FromSeconds(30)), "the stalled checker process is still running");
    }
}
