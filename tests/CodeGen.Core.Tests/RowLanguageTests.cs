using System.Text.Json;
using CodeGen.Core.Checking;
using CodeGen.Core.Prompting;
using CodeGen.Core.Rows;
using CodeGen.Core.Running;
using FakeLlm;

namespace CodeGen.Core.Tests;

/// <summary>-Language '{column}': each row's language, from its own column, in the prompt, the extraction and the check.</summary>
public class RowLanguageTests : IClassFixture<FakeServerFixture>, IDisposable
{
    private readonly FakeServerFixture _fixture;
    private readonly CodeCheckers _checkers = CodeCheckers.Create();

    public RowLanguageTests(FakeServerFixture fixture) => _fixture = fixture;

    public void Dispose() => _checkers.Dispose();

    [Fact]
    public void A_language_without_braces_is_one_language_and_placeholders_name_columns()
    {
        Assert.Null(RowLanguage.Parse(null));
        Assert.Null(RowLanguage.Parse("  "));
        var fixedOne = RowLanguage.Parse(" C# ")!;
        Assert.False(fixedOne.IsPerRow);
        Assert.Equal("C#", fixedOne.Fixed);
        var perRow = RowLanguage.Parse("{language}")!;
        Assert.True(perRow.IsPerRow);
        Assert.Equal(["language"], perRow.Fields);
        Assert.Null(perRow.Fixed);
        // literal braces, as in a template
        Assert.Equal("{r}", RowLanguage.Parse("{{r}}")!.Fixed);
    }

    [Theory]
    [InlineData("{language")]
    [InlineData("language}")]
    [InlineData("{}")]
    public void A_brace_that_opens_or_closes_nothing_is_refused_naming_Language(string text)
    {
        var ex = Assert.Throws<FormatException>(() => RowLanguage.Parse(text));
        Assert.StartsWith($"-Language '{text}' is neither a language name nor a {{column}} placeholder: it has ", ex.Message);
        using var client = Runs.Client(new Uri("http://127.0.0.1:9/v1"));
        Assert.Throws<ArgumentException>(() => new GenerationRun(new GenerationOptions { Language = text }, client));
    }

    [Fact]
    public void The_default_prompt_asks_each_row_for_its_own_language()
    {
        var builder = new PromptBuilder("instruction", "generated_code", false, null, null, "{language}");
        var python = builder.Build(new TestRow(("instruction", "sort a list"), ("language", "Python")), 1);
        var bash = builder.Build(new TestRow(("instruction", "rotate logs"), ("language", " Bash ")), 2);

        Assert.Equal(PromptBuilder.DefaultPreamble("Python") + "sort a list", Assert.Single(python.Messages!).Content);
        Assert.Equal("Python", python.Language);
        Assert.Equal(PromptBuilder.DefaultPreamble("Bash") + "rotate logs", Assert.Single(bash.Messages!).Content);
        Assert.Equal("Bash", bash.Language);
        // a fixed language sends what it always sent (recorded caches keep matching)
        var fixedOne = new PromptBuilder("instruction", "generated_code", false, null, null, "Python").Build(new TestRow(("instruction", "sort a list")), 1);
        Assert.Equal(Assert.Single(python.Messages!).Content, Assert.Single(fixedOne.Messages!).Content);
        Assert.Equal("Python", fixedOne.Language);
    }

    [Fact]
    public void A_row_without_the_column_fails_as_TemplateColumnMissing_and_an_empty_one_names_no_language()
    {
        var builder = new PromptBuilder("instruction", "generated_code", false, null, null, "{language}");
        var missing = builder.Build(TestRow.Instruction("sort a list"), 3);
        Assert.False(missing.IsSendable);
        Assert.Equal(RowErrorKind.TemplateColumnMissing, missing.Error!.Kind);
        Assert.Equal("Row 3: -Language '{language}' uses '{language}' but the row has no 'language' field.", missing.Error.Message);

        var empty = builder.Build(new TestRow(("instruction", "sort a list"), ("language", "")), 4);
        Assert.True(empty.IsSendable);
        Assert.Null(empty.Language);
        Assert.Equal(PromptBuilder.DefaultPreamble(null) + "sort a list", Assert.Single(empty.Messages!).Content);
    }

    [Fact]
    public void A_template_row_carries_its_language_to_the_check()
    {
        var builder = new PromptBuilder("instruction", "generated_code", false, PromptTemplate.Parse("In {lang}: {instruction}"), null, "{lang}");
        var row = builder.Build(new TestRow(("instruction", "sort a list"), ("lang", "Go")), 1);
        Assert.Equal("In Go: sort a list", Assert.Single(row.Messages!).Content);
        Assert.Equal("Go", row.Language);
    }

    [Fact]
    public void DataFlow_rows_are_asked_for_and_checked_in_the_language_of_their_language_column()
    {
        // code_input.jsonl: Python rows, an HTML row and a Text row, each with its language in 'language'
        var rows = Runs.ReadJsonLines("code_input.jsonl").Select(TestRow.FromJson).ToList();
        string[] languages = [.. rows.Select(r => r.TryGetField("language", out var l) ? l! : throw new InvalidOperationException())];
        Assert.Contains("HTML", languages);
        Assert.Contains("Text", languages);
        var server = _fixture.Use(new FakeLlmOptions { RecordRequests = true });
        using var client = Runs.Client(server.BaseUrl, concurrency: 1); // one at a time: the recorded bodies are in row order
        using var run = new GenerationRun(new GenerationOptions { InputKey = "text", Language = "{language}", Checkers = _checkers }, client);

        var outcomes = Runs.Drive(run, rows);

        Assert.Equal(rows.Count, outcomes.Count);
        var prompts = server.Stats.RequestBodies.Select(b => JsonDocument.Parse(b).RootElement.GetProperty("messages")[0].GetProperty("content").GetString()!).ToList();
        for (int i = 0; i < rows.Count; i++)
        {
            Assert.True(outcomes[i].Succeeded, outcomes[i].Error?.Message);
            Assert.StartsWith(PromptBuilder.DefaultPreamble(languages[i]), prompts[i]);
            var check = outcomes[i].Check!;
            if (languages[i] == "Python")
            {
                // the fake's placeholder code, fenced python, parses as the row's Python
                Assert.Equal(CheckStatus.Ok, check.Status);
                Assert.Equal("python", check.Language);
            }
            else
            {
                // the row's own language wins over the answer's python fence: no checker for it, as for -Language HTML
                Assert.Equal(CheckStatus.Unchecked, check.Status);
                Assert.Contains($"no checker for '{languages[i]}'", check.Detail);
            }
        }
    }

    [Fact]
    public void Each_row_keeps_the_code_block_of_its_own_language()
    {
        // the "multi" answer holds a bash block, then a python one
        var server = _fixture.Use(new FakeLlmOptions { Style = "multi" });
        using var client = Runs.Client(server.BaseUrl);
        using var run = new GenerationRun(new GenerationOptions { Language = "{language}" }, client);
        var outcomes = Runs.Drive(run, [
            new TestRow(("instruction", "task 1"), ("language", "Python")),
            new TestRow(("instruction", "task 1"), ("language", "sh")),
        ]);
        Assert.Equal(FakeLlmServer.CodeFor("task 1"), outcomes[0].Code);
        Assert.Equal("pip install nothing", outcomes[1].Code);
    }

    [Fact]
    public void Test_of_code_in_rows_checks_each_row_in_its_own_language()
    {
        var run = new CheckRun(_checkers, "text", "{language}");
        // a trailing comma: not JSON, but Python
        run.Enqueue(new TestRow(("text", "[1, 2,]"), ("language", "json")), "json", CancellationToken.None);
        run.Enqueue(new TestRow(("text", "[1, 2,]"), ("language", "Python")), "python", CancellationToken.None);
        run.Enqueue(new TestRow(("text", "x = 1")), "none", CancellationToken.None);
        var results = run.Take(all: true).ToList();

        Assert.Equal(CheckStatus.Failed, results[0].Result.Status);
        Assert.Equal("json", results[0].Result.Language);
        Assert.Equal(CheckStatus.Ok, results[1].Result.Status);
        Assert.Equal("python", results[1].Result.Language);
        Assert.Equal(CheckStatus.Unchecked, results[2].Result.Status);
        Assert.Equal("-Language '{language}' uses '{language}' but the row has no 'language' field.", results[2].Result.Detail);
    }
}
