using CodeGen.Core.Llm;
using CodeGen.Core.Storage;

namespace CodeGen.Core.Running;

/// <summary>What -WhatIf shows of the rows a run would send: each row on one line, and with -Verbose the messages it would send.</summary>
public static class RowPreview
{
    /// <summary>The most characters of an instruction the one-line preview shows.</summary>
    public const int InstructionLength = 60;

    /// <summary>The row as a confirmation names it: its number and the start of its instruction, on one line.</summary>
    public static string Target(PreparedRow row) => $"Row {row.RowNumber}: {Instruction(row.Instruction)}";

    /// <summary>An instruction on one line, cut to <see cref="InstructionLength"/> characters with "..." when longer.</summary>
    public static string Instruction(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return string.Empty;
        }
        string line = text.ReplaceLineEndings(" ").Trim();
        return line.Length <= InstructionLength ? line : line[..(InstructionLength - 3)] + "...";
    }

    /// <summary>The messages the row would send, in full, each under its role; for a row that would send nothing, why.</summary>
    public static string Messages(PreparedRow row)
    {
        if (row.Prompt.Messages is not { } messages)
        {
            return $"Row {row.RowNumber} would send nothing: {row.Error?.Detail}";
        }
        var text = new System.Text.StringBuilder($"Row {row.RowNumber} would send {messages.Length} message{(messages.Length == 1 ? "" : "s")}:");
        foreach (var message in messages)
        {
            text.Append('\n').Append(message.Role).Append(":\n    ").Append(message.Content.ReplaceLineEndings("\n    "));
        }
        return text.ToString();
    }

    /// <summary>
    /// The messages of every row of a data file (<see cref="Messages"/>), as a run with <paramref name="options"/> would
    /// build them; nothing is sent. Reading the file can throw what reading it for a run would.
    /// </summary>
    public static IEnumerable<string> OfFile(GenerationOptions options, IChatBackend backend, string input, DataFormat? format, CsvSettings csv)
    {
        using var run = new GenerationRun(options, backend);
        using var reader = RowFiles.OpenReader(input, DataFormats.Resolve(input, format), csv);
        while (reader.Read(out var row))
        {
            yield return Messages(run.Prepare(row));
        }
    }
}
