using CodeGen.Core.Prompting;
using CodeGen.Core.Rows;

namespace CodeGen.Core.Tests;

public class PromptTemplateTests
{
    [Fact]
    public void Fills_placeholders_from_the_row()
    {
        var template = PromptTemplate.Parse("Write {language} code.\nTask: {instruction}");
        var row = new TestRow(("instruction", "sort a list"), ("language", "Go"));
        Assert.True(template.TryRender(row, out var text, out _));
        Assert.Equal("Write Go code.\nTask: sort a list", text);
        Assert.Equal(["language", "instruction"], template.Fields);
    }

    [Fact]
    public void Doubled_braces_are_literal_and_values_are_not_reparsed()
    {
        var template = PromptTemplate.Parse("Return JSON like {{\"a\": 1}} for: {instruction}");
        var row = TestRow.Instruction("a dict {x} with }} braces");
        Assert.True(template.TryRender(row, out var text, out _));
        Assert.Equal("Return JSON like {\"a\": 1} for: a dict {x} with }} braces", text);
    }

    [Fact]
    public void Missing_column_is_reported_by_name()
    {
        var template = PromptTemplate.Parse("{instruction} in {language}");
        Assert.False(template.TryRender(TestRow.Instruction("x"), out _, out var missing));
        Assert.Equal("language", missing);
    }

    [Fact]
    public void Names_match_case_insensitively_and_null_values_render_empty()
    {
        var template = PromptTemplate.Parse("[{Instruction}][{note}]");
        var row = new TestRow(("instruction", "x"), ("NOTE", null));
        Assert.True(template.TryRender(row, out var text, out _));
        Assert.Equal("[x][]", text);
    }

    [Theory]
    [InlineData("Task: {instruction", "never closed")]
    [InlineData("Task: instruction}", "closes nothing")]
    [InlineData("Task: {}", "empty placeholder")]
    [InlineData("Task: {a{b}", "never closed")]
    public void Malformed_templates_are_rejected_with_the_position(string text, string reason)
    {
        var ex = Assert.Throws<FormatException>(() => PromptTemplate.Parse(text));
        Assert.Contains(reason, ex.Message);
        Assert.Contains("position", ex.Message);
    }
}

public class PromptBuilderTests
{
    [Fact]
    public void Default_prompt_asks_for_code_only_and_ends_with_the_task()
    {
        var builder = new PromptBuilder("instruction", "generated_code", false, null, null, null);
        var result = builder.Build(TestRow.Instruction("reverse a string"), 1);
        Assert.True(result.IsSendable);
        var message = Assert.Single(result.Messages!);
        Assert.Equal("user", message.Role);
        Assert.EndsWith("Task:\nreverse a string", message.Content);
        Assert.Contains("single fenced code block", message.Content);
    }

    [Fact]
    public void Language_is_named_in_the_default_prompt()
    {
        var builder = new PromptBuilder("instruction", "generated_code", false, null, null, "PowerShell");
        var text = builder.Build(TestRow.Instruction("list files"), 1).Messages![0].Content;
        Assert.Contains("Write PowerShell code", text);
        Assert.Contains("tagged powershell", text);
    }

    [Fact]
    public void System_prompt_comes_first()
    {
        var builder = new PromptBuilder("instruction", "generated_code", false, null, "You write secure code.", null);
        var messages = builder.Build(TestRow.Instruction("x"), 1).Messages!;
        Assert.Equal(2, messages.Length);
        Assert.Equal(ChatMessage.System("You write secure code."), messages[0]);
        Assert.Equal("user", messages[1].Role);
    }

    [Fact]
    public void Template_replaces_the_default_prompt()
    {
        var builder = new PromptBuilder("instruction", "generated_code", false, PromptTemplate.Parse("Do: {instruction}"), null, null);
        Assert.Equal("Do: x", builder.Build(TestRow.Instruction("x"), 1).Messages![0].Content);
    }

    [Fact]
    public void Row_rules_give_errors_with_the_row_number()
    {
        var builder = new PromptBuilder("instruction", "generated_code", false, PromptTemplate.Parse("{instruction} {lang}"), null, null);

        var missing = builder.Build(new TestRow(("text", "x")), 7).Error!;
        Assert.Equal(RowErrorKind.MissingInputColumn, missing.Kind);
        Assert.StartsWith("Row 7: ", missing.Message);
        Assert.Contains("'instruction'", missing.Message);

        var exists = builder.Build(new TestRow(("instruction", "x"), ("generated_code", "old")), 8).Error!;
        Assert.Equal(RowErrorKind.OutputColumnExists, exists.Kind);
        Assert.Equal("OutputColumnExists", exists.ErrorId);

        var empty = builder.Build(TestRow.Instruction("  \n "), 9).Error!;
        Assert.Equal(RowErrorKind.EmptyInstruction, empty.Kind);

        var template = builder.Build(TestRow.Instruction("x"), 10).Error!;
        Assert.Equal(RowErrorKind.TemplateColumnMissing, template.Kind);
        Assert.Contains("{lang}", template.Message);
    }

    [Fact]
    public void An_empty_output_field_from_an_earlier_failure_may_be_filled()
    {
        var builder = new PromptBuilder("instruction", "generated_code", false, null, null, null);
        Assert.True(builder.Build(new TestRow(("instruction", "x"), ("generated_code", null)), 1).IsSendable);
        Assert.True(builder.Build(new TestRow(("instruction", "x"), ("generated_code", " ")), 1).IsSendable);
    }

    [Fact]
    public void Overwrite_allows_an_existing_output_column()
    {
        var builder = new PromptBuilder("instruction", "generated_code", true, null, null, null);
        Assert.True(builder.Build(new TestRow(("instruction", "x"), ("generated_code", "old")), 1).IsSendable);
    }

    [Fact]
    public void DataFlow_raw_code_rows_with_empty_instructions_are_refused_and_their_input_column_works()
    {
        var rows = Runs.ReadJsonLines("raw_code.jsonl").Select(TestRow.FromJson).ToList();
        Assert.NotEmpty(rows);
        var byInstruction = new PromptBuilder("instruction", "generated_code", false, null, null, null);
        Assert.All(rows, r => Assert.Equal(RowErrorKind.EmptyInstruction, byInstruction.Build(r, 1).Error!.Kind));

        // their long prompts with brackets, braces and quotes go through a template untouched
        var byInput = new PromptBuilder("input", "generated_code", false, PromptTemplate.Parse("{input}"), null, null);
        foreach (var row in rows)
        {
            row.TryGetField("input", out var input);
            Assert.Equal(input, byInput.Build(row, 1).Messages![0].Content);
        }
    }
}
