using CodeGen.Core.Extraction;

namespace CodeGen.Core.Tests;

public class CodeExtractorTests
{
    /// <summary>Answer (as models write them), wanted language, expected code, expected source.</summary>
    public static TheoryData<string, string, string?, string, CodeSource> Answers => new()
    {
        {
            "python tag with prose around",
            "Here is the function you asked for:\n\n```python\ndef add(a, b):\n    return a + b\n```\n\nIt adds two numbers.",
            null, "def add(a, b):\n    return a + b", CodeSource.FencedBlock
        },
        {
            "no language tag",
            "```\nSELECT 1;\n```", null, "SELECT 1;", CodeSource.FencedBlock
        },
        {
            "other language tag is not left in the code (the original's regex kept 'javascript')",
            "```javascript\nconst x = 1;\n```", null, "const x = 1;", CodeSource.FencedBlock
        },
        {
            "tilde fence",
            "~~~bash\necho hi\n~~~", null, "echo hi", CodeSource.FencedBlock
        },
        {
            "several blocks: the first one",
            "Install:\n```bash\npip install requests\n```\nThen:\n```python\nimport requests\n```", null, "pip install requests", CodeSource.FencedBlock
        },
        {
            "several blocks: the first in the wanted language",
            "Install:\n```bash\npip install requests\n```\nThen:\n```python\nimport requests\n```", "python", "import requests", CodeSource.FencedBlock
        },
        {
            "language alias: py matches Python",
            "```sh\nls\n```\n```py\nprint(1)\n```", "Python", "print(1)", CodeSource.FencedBlock
        },
        {
            "language alias: pwsh matches PowerShell",
            "```text\noutput\n```\n```pwsh\nGet-Date\n```", "PowerShell", "Get-Date", CodeSource.FencedBlock
        },
        {
            "wanted language absent: first block",
            "```js\nlet a = 1;\n```", "rust", "let a = 1;", CodeSource.FencedBlock
        },
        {
            "unclosed fence at a truncated answer",
            "Sure:\n```python\ndef f():\n    return [1, 2,", null, "def f():\n    return [1, 2,", CodeSource.UnclosedFence
        },
        {
            "think block removed, including a fence inside it",
            "<think>\nMaybe ```python\nwrong()\n``` is it.\n</think>\n\n```python\nright()\n```", null, "right()", CodeSource.FencedBlock
        },
        {
            "closing think tag without an opening one",
            "the user wants a loop, so...\n</think>\n```python\nfor i in range(3): pass\n```", null, "for i in range(3): pass", CodeSource.FencedBlock
        },
        {
            "reasoning with a draft in a fence, then a closing tag and the final fence (DeepSeek-R1 after a template's <think>)",
            "Let me try:\n```python\ndraft()\n```\nNo, better:\n</think>\n\n```python\nfinal()\n```", null, "final()", CodeSource.FencedBlock
        },
        {
            "reasoning that mentions <think>, then the closing tag",
            "The user wrote <think> in the prompt.\n```python\ndraft()\n```\n</think>\n```python\nfinal()\n```", null, "final()", CodeSource.FencedBlock
        },
        {
            "a byte order mark and white space before <think>",
            "\uFEFF \n<think>\n```python\ndraft()\n```\n</think>\n```python\nfinal()\n```", null, "final()", CodeSource.FencedBlock
        },
        {
            "a preamble line before <think>",
            "Sure.\n<think>\n```python\ndraft()\n```\n</think>\n```python\nfinal()\n```", null, "final()", CodeSource.FencedBlock
        },
        {
            "a closing tag that ends its line, then code without a fence",
            "That is the answer.</think>\n\nprint(1)", null, "print(1)", CodeSource.WholeAnswer
        },
        {
            "think tags inside the code are code",
            "```python\nprint(\"<think>\")\nprint(\"</think>\")\n```", null, "print(\"<think>\")\nprint(\"</think>\")", CodeSource.FencedBlock
        },
        {
            "a closing tag inside the code is code, even without an opening one",
            "Here:\n```html\n<p>x</p>\n</think>\n```", null, "<p>x</p>\n</think>", CodeSource.FencedBlock
        },
        {
            "think tags inside code without fences are code",
            "x = \"</think>\"\nprint(x)", null, "x = \"</think>\"\nprint(x)", CodeSource.WholeAnswer
        },
        {
            "unclosed think: nothing but reasoning",
            "<think>\nStill reasoning about ```code```", null, "", CodeSource.Empty
        },
        {
            "CRLF line ends",
            "Code:\r\n```csharp\r\nvar x = 1;\r\nConsole.WriteLine(x);\r\n```\r\n", null, "var x = 1;\nConsole.WriteLine(x);", CodeSource.FencedBlock
        },
        {
            "no fence at all: the whole answer",
            "def f():\n    return 42\n", null, "def f():\n    return 42", CodeSource.WholeAnswer
        },
        {
            "four-backtick fence holding a markdown fence",
            "````markdown\n# Title\n```python\nx = 1\n```\n````", null, "# Title\n```python\nx = 1\n```", CodeSource.FencedBlock
        },
        {
            "indented fence in a list item is dedented",
            "1. Save this:\n   ```python\n   def f():\n       return 1\n   ```", null, "def f():\n    return 1", CodeSource.FencedBlock
        },
        {
            "info string with attributes",
            "```python title=\"main.py\"\nprint('hi')\n```", null, "print('hi')", CodeSource.FencedBlock
        },
        {
            "closing fence glued to the last line",
            "```python\nprint('hi')```", null, "print('hi')", CodeSource.FencedBlock
        },
        {
            "empty first block is skipped",
            "```\n\n```\n```go\nfmt.Println(1)\n```", null, "fmt.Println(1)", CodeSource.FencedBlock
        },
        {
            "first line indentation is kept",
            "```python\n    return x\n```", null, "    return x", CodeSource.FencedBlock
        },
        {
            "a single inline code span",
            "`Get-ChildItem -Recurse`", null, "Get-ChildItem -Recurse", CodeSource.WholeAnswer
        },
        {
            "inline triple backticks are not a fence",
            "Use ```x``` sparingly.\n```ruby\nputs 1\n```", null, "puts 1", CodeSource.FencedBlock
        },
        {
            "blank lines around the code are dropped",
            "```sql\n\n\nSELECT *\nFROM t;\n\n\n```", null, "SELECT *\nFROM t;", CodeSource.FencedBlock
        },
        {
            "empty answer",
            "", null, "", CodeSource.Empty
        },
        {
            "DataFlow-style answer with [ANSWER] tags and no fence is kept whole",
            "[ANSWER]\nassert f(1) == 2\n[/ANSWER]", null, "[ANSWER]\nassert f(1) == 2\n[/ANSWER]", CodeSource.WholeAnswer
        },
    };

    [Theory]
    [MemberData(nameof(Answers))]
    public void Extracts_code_from_real_looking_answers(string name, string answer, string? language, string expected, CodeSource source)
    {
        var result = CodeExtractor.Extract(answer, language);
        Assert.True(expected == result.Code, $"{name}: expected «{expected}» but got «{result.Code}»");
        Assert.Equal(source, result.Source);
    }

    [Fact]
    public void Reports_the_language_tag_of_the_chosen_block()
    {
        Assert.Equal("py", CodeExtractor.Extract("```py\nx\n```").LanguageTag);
        Assert.Null(CodeExtractor.Extract("```\nx\n```").LanguageTag);
    }

    [Theory]
    [InlineData("Python", "py", true)]
    [InlineData("C#", "cs", true)]
    [InlineData("c++", "cpp", true)]
    [InlineData("TypeScript", "ts", true)]
    [InlineData("bash", "python", false)]
    [InlineData("Zig", "zig", true)]
    public void Language_names_and_fence_tags_are_matched(string a, string b, bool same)
        => Assert.Equal(same, LanguageNames.SameLanguage(a, b));
}
