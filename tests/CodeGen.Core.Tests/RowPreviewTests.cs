using CodeGen.Core.Llm;
using CodeGen.Core.Running;
using CodeGen.Core.Storage;

namespace CodeGen.Core.Tests;

/// <summary>What -WhatIf shows of a run's rows, and where a folder of outputs puts each input's output: text and names, nothing sent.</summary>
public sealed class RowPreviewTests : IDisposable
{
    private readonly TempFolder _temp = new();
    // nothing listens there: a preview sends nothing
    private readonly LlmClient _client = Runs.Client(new Uri("http://127.0.0.1:9/v1"));

    public void Dispose()
    {
        _client.Dispose();
        _temp.Dispose();
    }

    [Fact]
    public void A_row_is_named_by_its_number_and_its_instruction_on_one_line_cut_at_sixty_characters()
    {
        using var run = new GenerationRun(new GenerationOptions(), _client);
        var row = run.Prepare(TestRow.Instruction("Parse a date\r\nand return it"));
        Assert.Equal("Row 1: Parse a date and return it", RowPreview.Target(row));
        string longer = RowPreview.Instruction(new string('x', 100));
        Assert.Equal(RowPreview.InstructionLength, longer.Length);
        Assert.EndsWith("...", longer);
        Assert.Equal(string.Empty, RowPreview.Instruction(null));
    }

    [Fact]
    public void The_messages_of_a_row_are_shown_in_full_under_their_roles_and_a_row_that_sends_nothing_says_why()
    {
        using var run = new GenerationRun(new GenerationOptions { SystemPrompt = "Be brief." }, _client);
        string shown = RowPreview.Messages(run.Prepare(TestRow.Instruction("line one\nline two")));
        Assert.StartsWith("Row 1 would send 2 messages:\nsystem:\n    Be brief.\nuser:\n    ", shown);
        Assert.Contains("line one\n    line two", shown);
        Assert.StartsWith("Row 2 would send nothing: ", RowPreview.Messages(run.Prepare(TestRow.Instruction("  "))));
    }

    [Fact]
    public void The_rows_of_a_file_are_shown_as_a_run_would_build_them()
    {
        string input = _temp.WriteTasks("tasks.csv", 2);
        var shown = RowPreview.OfFile(new GenerationOptions(), _client, input, format: null, CsvSettings.Default).ToList();
        Assert.Equal(2, shown.Count);
        Assert.StartsWith("Row 2 would send ", shown[1]);
        Assert.Contains("task 2", shown[1]);
    }

    [Fact]
    public void An_output_path_is_a_folder_for_several_inputs_a_trailing_separator_or_an_existing_folder()
    {
        string file = _temp.File("out.jsonl");
        Assert.False(OutputFolder.Holds(1, file, file));
        Assert.True(OutputFolder.Holds(2, file, file));
        Assert.True(OutputFolder.Holds(1, "out/", _temp.File("out")));
        Assert.True(OutputFolder.Holds(1, _temp.Path, _temp.Path));
    }

    [Fact]
    public void Outputs_in_a_folder_are_named_after_their_inputs_whatever_order_the_inputs_came_in()
    {
        string[] inputs = ["/data/y/tasks.csv", "/data/x/tasks.csv", "/data/a.json", "/data/a.csv"];
        var names = OutputFolder.Names(inputs, inputFormat: null, outputFormat: DataFormat.JsonLines);
        Assert.Equal("x_tasks.jsonl", names["/data/x/tasks.csv"]);
        Assert.Equal("y_tasks.jsonl", names["/data/y/tasks.csv"]);
        Assert.Equal("a.csv.jsonl", names["/data/a.csv"]);
        Assert.Equal("a.json.jsonl", names["/data/a.json"]);
        Assert.Equal(names, OutputFolder.Names([.. inputs.Reverse()], inputFormat: null, outputFormat: DataFormat.JsonLines));
        Assert.Equal("tasks.csv", OutputFolder.Names(["/data/tasks.csv"], inputFormat: null, outputFormat: null)["/data/tasks.csv"]);
    }

    [Fact]
    public void Inputs_whose_folders_share_a_name_too_are_numbered()
    {
        var names = OutputFolder.Names(["/p/x/tasks.csv", "/q/x/tasks.csv"], inputFormat: null, outputFormat: null);
        Assert.Equal(["x_tasks.csv", "x_tasks.2.csv"], [names["/p/x/tasks.csv"], names["/q/x/tasks.csv"]]);
    }
}
