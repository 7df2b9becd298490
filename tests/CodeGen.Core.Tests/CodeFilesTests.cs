using System.Text;
using CodeGen.Core.Checking;
using CodeGen.Core.Storage;

namespace CodeGen.Core.Tests;

/// <summary>Source files given to a check: the language by extension, rows or source, and their text.</summary>
public sealed class CodeFilesTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    private string Write(string name, string text)
    {
        string path = _temp.File(name);
        File.WriteAllText(path, text);
        return path;
    }

    [Theory]
    [InlineData("a.ps1", "powershell")]
    [InlineData("A.PSM1", "powershell")]
    [InlineData("a.psd1", "powershell")]
    [InlineData("a.py", "python")]
    [InlineData("a.sh", "bash")]
    [InlineData("a.bash", "bash")]
    [InlineData("a.cs", "csharp")]
    [InlineData("a.csx", "csharp")]
    [InlineData("a.json", "json")]
    [InlineData("a.txt", null)]
    [InlineData("a.rb", null)]
    [InlineData("Makefile", null)]
    public void The_language_of_a_source_file_is_its_extensions(string name, string? language)
        => Assert.Equal(language, CodeFiles.LanguageOf(name));

    [Fact]
    public void Data_files_hold_rows_and_source_files_source()
    {
        Assert.Equal(CheckedFileKind.Rows, CodeFiles.KindOf(Write("rows.csv", "id,generated_code\n1,x\n"), null, "generated_code", false, null));
        Assert.Equal(CheckedFileKind.Rows, CodeFiles.KindOf(Write("rows.jsonl", "{\"generated_code\":\"x\"}\n"), null, "generated_code", false, null));
        Assert.Equal(CheckedFileKind.Source, CodeFiles.KindOf(Write("a.ps1", "Get-Date"), null, "generated_code", false, null));
        // any file, when the language is named
        Assert.Equal(CheckedFileKind.Source, CodeFiles.KindOf(Write("notes.txt", "x = 1"), null, "generated_code", false, "Python"));
        // -Format reads any file as rows
        Assert.Equal(CheckedFileKind.Rows, CodeFiles.KindOf(Write("export.txt", "id,generated_code\n"), DataFormat.Csv, "generated_code", false, null));
    }

    [Fact]
    public void A_json_file_holds_rows_when_its_first_object_has_the_code_column_and_is_JSON_source_otherwise()
    {
        string rows = Write("out.json", "[{\"id\": 1, \"generated_code\": \"Get-Date\"}]");
        Assert.Equal(CheckedFileKind.Rows, CodeFiles.KindOf(rows, null, "generated_code", false, null));
        Assert.Equal(CheckedFileKind.Source, CodeFiles.KindOf(rows, null, "text", false, null));
        Assert.Equal(CheckedFileKind.Rows, CodeFiles.KindOf(rows, null, "text", codeKeyGiven: true, null));
        Assert.Equal(CheckedFileKind.Source, CodeFiles.KindOf(Write("settings.json", "{\"replicas\": 2}"), null, "generated_code", false, null));
        Assert.Equal(CheckedFileKind.Source, CodeFiles.KindOf(Write("broken.json", "[{\"replicas\": 2,"), null, "generated_code", false, null));
    }

    [Fact]
    public void A_file_of_unknown_extension_a_missing_file_and_a_folder_are_errors_that_say_so()
    {
        var unknown = Assert.Throws<DataFileException>(() => CodeFiles.KindOf(Write("notes.txt", "hello"), null, "generated_code", false, null));
        Assert.Equal(DataFileException.UnknownCodeLanguage, unknown.ErrorId);
        Assert.Contains("cannot tell the language of the code from the extension '.txt'", unknown.Message);
        Assert.Contains(".ps1 .psm1 .psd1 .py .sh .bash .cs .csx .json", unknown.Message);

        var missing = Assert.Throws<DataFileException>(() => CodeFiles.KindOf(_temp.File("gone.ps1"), null, "generated_code", false, null));
        Assert.Equal(DataFileException.DataFileNotFound, missing.ErrorId);
        var folder = Assert.Throws<DataFileException>(() => CodeFiles.KindOf(_temp.Path, null, "generated_code", false, "PowerShell"));
        Assert.Equal(DataFileException.DataFileNotFound, folder.ErrorId);
        Assert.Contains("is a folder", folder.Message);
    }

    [Fact]
    public void A_source_file_is_read_as_UTF_8_or_as_its_byte_order_mark_says()
    {
        string utf8 = Write("a.ps1", "'größe'");
        Assert.Equal("'größe'", CodeFiles.Read(utf8));
        string utf16 = _temp.File("b.ps1");
        File.WriteAllText(utf16, "'größe'", Encoding.Unicode); // with its BOM
        Assert.Equal("'größe'", CodeFiles.Read(utf16));
        string latin1 = _temp.File("c.ps1");
        File.WriteAllBytes(latin1, Encoding.Latin1.GetBytes("'größe'"));
        Assert.Equal("'größe'", CodeFiles.Read(latin1, Encoding.Latin1));
    }

    [Fact]
    public void A_check_run_takes_files_and_rows_back_in_order()
    {
        using var checkers = CodeCheckers.Create();
        var run = new CheckRun(checkers, "generated_code", null);
        run.EnqueueCode("{\"a\": 1,}", "json", "file", CancellationToken.None);
        run.Enqueue(new TestRow(("generated_code", "```json\n[1]\n```")), "row", CancellationToken.None);
        run.EnqueueCode("class A { }", "csharp", "file 2", CancellationToken.None);
        var results = run.Take(all: true).ToList();

        Assert.Equal(["file", "row", "file 2"], results.Select(r => (string)r.State!));
        var broken = new CodeFileCheck(_temp.File("settings.json"), results[0].Result, "json");
        Assert.Equal("failed", broken.Check);
        Assert.Equal("json", broken.Language);
        Assert.StartsWith("line 1, column ", broken.Detail);
        Assert.Equal("ok", results[1].Result.StatusText);
        var ok = new CodeFileCheck(_temp.File("A.cs"), results[2].Result, "csharp");
        Assert.Equal("ok", ok.Check);
        Assert.Null(ok.Detail);
    }
}
