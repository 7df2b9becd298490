using System.Globalization;
using System.Text;

namespace CodeGen.Core.Checking;

/// <summary>
/// Bash, with <c>bash -n</c> (read the script, run nothing). Bash parses a script only when started on it, so one
/// long-lived bash reads the code over stdin and runs <c>bash -n</c> on each in a child (a fork, not a .NET process
/// start per row); the child never runs the code.
/// </summary>
public sealed class BashChecker : ProcessChecker
{
    // a request is "<number> <the code's length in bytes>", a line break and the code; the answer is
    // "<number> <exit code><TAB><messages>" on one line (the messages' own line breaks as \x1f; only LF ends a line)
    private const string Loop = """
        while IFS=' ' read -r number length; do
            code=
            if [ "$length" -gt 0 ]; then IFS= read -r -d '' -N "$length" code; fi
            messages=$(printf '%s' "$code" | bash -n 2>&1)
            status=$?
            printf '%s %s\t%s\n' "$number" "$status" "${messages//$'\n'/$'\x1f'}"
        done
        """;

    /// <param name="program">The bash to use (bash on PATH by default).</param>
    public BashChecker(string program = "bash") : base(program)
    {
    }

    public override string Language => "bash";

    /// <summary>Bash and sh scripts; zsh, ksh and fish have syntax of their own.</summary>
    public override IReadOnlyCollection<string> Tags { get; } = ["bash", "sh", "shell", "shellscript", "shell-script"];

    protected override IReadOnlyList<string> Arguments => ["--norc", "--noprofile", "-c", Loop];

    protected override CheckResult? Precheck(string code)
        => code.Contains('\0') ? CheckResult.Failed(Language, ["the code holds a NUL character, which no shell script can"]) : null;

    protected override byte[] Request(long number, string code)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(code);
        byte[] head = Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{number} {bytes.Length}\n"));
        return [.. head, .. bytes];
    }

    protected override CheckResult Parse(string answer)
    {
        int tab = answer.IndexOf('\t');
        string status = tab < 0 ? answer : answer[..tab];
        if (status == "0")
        {
            return CheckResult.Ok(Language);
        }
        var messages = (tab < 0 ? string.Empty : answer[(tab + 1)..]).Split('\x1f', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(m => m.StartsWith("bash: ", StringComparison.Ordinal) ? m["bash: ".Length..] : m)
            .ToList();
        return CheckResult.Failed(Language, messages.Count > 0 ? messages : [$"bash -n exited with {status}"]);
    }
}
