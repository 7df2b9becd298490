using System.Text;
using System.Text.Json;
using CodeGen.Core.Storage;

namespace CodeGen.Core.Tests;

/// <summary>A temporary folder, deleted with everything in it.</summary>
public sealed class TempFolder : IDisposable
{
    public TempFolder() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "codegen-tests-" + Guid.NewGuid().ToString("n"));

    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>A CSV of <paramref name="count"/> rows (id, instruction): "task 1", "task 2"... unless <paramref name="instruction"/> says otherwise.</summary>
    public string WriteTasks(string name, int count, Func<int, string>? instruction = null, string newline = "\n")
    {
        var sb = new StringBuilder("id,instruction").Append(newline);
        for (int i = 1; i <= count; i++)
        {
            sb.Append(i).Append(",\"").Append((instruction ?? (n => $"task {n}"))(i).Replace("\"", "\"\"")).Append('"').Append(newline);
        }
        return Write(name, sb.ToString());
    }

    public string Write(string name, string text, Encoding? encoding = null)
    {
        string path = File(name);
        System.IO.File.WriteAllText(path, text, encoding ?? new UTF8Encoding(false));
        return path;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

internal static class Files
{
    public static List<DataRow> ReadAll(string path, DataFormat format, CsvSettings? csv = null)
    {
        using var reader = RowFiles.OpenReader(path, format, csv);
        var rows = new List<DataRow>();
        while (reader.Read(out var row))
        {
            rows.Add(row);
        }
        return rows;
    }

    public static void WriteAll(string path, DataFormat format, IEnumerable<DataRow> rows, string[] columns, bool append = false)
    {
        using var writer = RowFiles.CreateWriter(path, format, columns, append: append);
        foreach (var row in rows)
        {
            writer.Write(row);
        }
    }

    public static DataRow Row(params (string Name, object? Value)[] fields)
    {
        var row = new DataRow();
        foreach (var (name, value) in fields)
        {
            row.Add(name, value);
        }
        return row;
    }

    /// <summary>A field as text, null as empty (CSV cannot tell them apart).</summary>
    public static string Text(DataRow row, string name) => DataRow.ToText(row[name]) ?? "";
}

public class DataFormatTests
{
    [Theory]
    [InlineData("csv", DataFormat.Csv, ".csv")]
    [InlineData("JSON", DataFormat.Json, ".json")]
    [InlineData("jsonl", DataFormat.JsonLines, ".jsonl")]
    [InlineData("ndjson", DataFormat.JsonLines, ".jsonl")]
    [InlineData("JsonLines", DataFormat.JsonLines, ".jsonl")]
    public void Every_name_parses_and_every_format_has_its_extension(string name, DataFormat format, string extension)
    {
        Assert.Equal(format, DataFormats.Parse(name));
        Assert.Equal(extension, DataFormats.Extension(format));
        Assert.Equal(format, DataFormats.FromExtension("rows" + extension));
        Assert.Contains(name, DataFormats.Names.Concat(["JsonLines"]), StringComparer.OrdinalIgnoreCase);
    }

    [Fact]
    public void A_format_no_switch_knows_is_an_error_not_json_lines()
    {
        var unknown = (DataFormat)99;
        Assert.Throws<ArgumentOutOfRangeException>(() => DataFormats.Extension(unknown));
        using var temp = new TempFolder();
        string path = temp.Write("rows.jsonl", "{\"a\":1}\n");
        Assert.Throws<ArgumentOutOfRangeException>(() => RowFiles.OpenReader(path, unknown));
        Assert.Throws<ArgumentOutOfRangeException>(() => RowFiles.CreateWriter(temp.File("out.jsonl"), unknown, ["a"]).Dispose());
        Assert.Throws<ArgumentException>(() => DataFormats.Parse("1"));
        Assert.Equal("Unknown format 'xml'. Use csv, json or jsonl. (Parameter 'name')", Assert.Throws<ArgumentException>(() => DataFormats.Parse("xml")).Message);
    }
}

public class CsvReaderTests
{
    [Fact]
    public void Reads_quoted_fields_with_separators_quotes_and_line_breaks()
    {
        using var temp = new TempFolder();
        string path = temp.Write("a.csv", "id,instruction,note\r\n1,\"Sort, then \"\"dedupe\"\"\",\"two\nlines\"\r\n2,plain,\r\n");
        var rows = Files.ReadAll(path, DataFormat.Csv);
        Assert.Equal(2, rows.Count);
        Assert.Equal("Sort, then \"dedupe\"", Files.Text(rows[0], "instruction"));
        Assert.Equal("two\nlines", Files.Text(rows[0], "note"));
        Assert.Equal("", Files.Text(rows[1], "note"));
        Assert.Equal(2, rows[0].Line);
        Assert.Equal(4, rows[1].Line); // the record before it spans two lines
    }

    [Fact]
    public void Accepts_a_byte_order_mark_crlf_and_unicode()
    {
        using var temp = new TempFolder();
        string path = temp.Write("a.csv", "instruction,lang\r\nÉcris une fonction,français\r\n日本語で,🚀\r\n", new UTF8Encoding(true));
        var rows = Files.ReadAll(path, DataFormat.Csv);
        Assert.Equal("Écris une fonction", Files.Text(rows[0], "instruction"));
        Assert.Equal("🚀", Files.Text(rows[1], "lang"));
        using var reader = RowFiles.OpenReader(path, DataFormat.Csv);
        Assert.Equal(["instruction", "lang"], reader.Columns!);
    }

    [Fact]
    public void Honours_a_delimiter_and_an_encoding()
    {
        using var temp = new TempFolder();
        string path = temp.Write("a.csv", "instruction;note\nÜbersetze;ä\n", Encoding.Latin1);
        var rows = Files.ReadAll(path, DataFormat.Csv, new CsvSettings(';', Encoding.Latin1));
        Assert.Equal("Übersetze", Files.Text(rows[0], "instruction"));
        Assert.Equal("ä", Files.Text(rows[0], "note"));
    }

    [Fact]
    public void Short_records_read_the_missing_fields_as_empty_and_blank_lines_are_skipped()
    {
        using var temp = new TempFolder();
        var rows = Files.ReadAll(temp.Write("a.csv", "a,b,c\n1,2\n\n3,4,5\n"), DataFormat.Csv);
        Assert.Equal(2, rows.Count);
        Assert.Equal("", Files.Text(rows[0], "c"));
        Assert.Equal("5", Files.Text(rows[1], "c"));
    }

    [Theory]
    [InlineData("a,b\n1,2\n3,4,5\n", 3, "3 fields but the header has 2")]
    [InlineData("a,b\n1,2\n3,\"open\n4,5\n", 3, "never closed")]
    [InlineData("a,b\n1,2\n3,x\"y\n", 3, "quote inside an unquoted field")]
    [InlineData("a,a\n1,2\n", 1, "names the column 'a' twice")]
    public void Malformed_records_are_errors_naming_file_and_line(string text, long line, string reason)
    {
        using var temp = new TempFolder();
        string path = temp.Write("bad.csv", text);
        var ex = Assert.Throws<DataFileException>(() => Files.ReadAll(path, DataFormat.Csv));
        Assert.Equal(line, ex.Line);
        Assert.Contains(reason, ex.Message);
        Assert.StartsWith($"{path}, line {line}", ex.Message);
    }

    [Fact]
    public void Empty_and_header_only_files_have_no_rows()
    {
        using var temp = new TempFolder();
        Assert.Empty(Files.ReadAll(temp.Write("empty.csv", ""), DataFormat.Csv));
        Assert.Empty(Files.ReadAll(temp.Write("header.csv", "a,b\n"), DataFormat.Csv));
    }

    [Fact]
    public void A_missing_file_is_an_error_naming_it()
    {
        using var temp = new TempFolder();
        var ex = Assert.Throws<DataFileException>(() => RowFiles.OpenReader(temp.File("nope.csv"), DataFormat.Csv));
        Assert.Equal(DataFileException.DataFileNotFound, ex.ErrorId);
        Assert.Contains("nope.csv", ex.Message);
    }
}

public class JsonReaderTests
{
    private const string Typed = "{\"instruction\":\"x\",\"n\":42,\"big\":12345678901234567890,\"f\":1.50,\"b\":true,\"o\":{\"k\":[1,\"two\",null]},\"z\":null}";

    [Fact]
    public void Json_lines_keep_types_skip_blank_lines_and_accept_crlf_and_bom()
    {
        using var temp = new TempFolder();
        string path = temp.Write("a.jsonl", Typed + "\r\n\r\n{\"instruction\":\"y\"}\r\n", new UTF8Encoding(true));
        var rows = Files.ReadAll(path, DataFormat.JsonLines);
        Assert.Equal(2, rows.Count);
        var row = rows[0];
        Assert.Equal("x", row["instruction"]);
        Assert.Equal("42", Assert.IsType<JsonText>(row["n"]).Json);
        Assert.Equal("12345678901234567890", ((JsonText)row["big"]!).Json);
        Assert.Equal("1.50", ((JsonText)row["f"]!).Json);
        Assert.Same(JsonText.True, row["b"]);
        Assert.Equal("{\"k\":[1,\"two\",null]}", ((JsonText)row["o"]!).Json);
        Assert.Null(row["z"]);
        Assert.True(row.HasField("z"));
        Assert.Equal(3, rows[1].Line);
    }

    [Theory]
    [InlineData("{\"instruction\":\"a\"}\n{\"instruction\": \"b\" oops}\n", 2, 21, "malformed JSON")]
    [InlineData("{\"instruction\":\"a\"}\n[1,2]\n", 2, null, "found an array")]
    [InlineData("{\"instruction\":\"a\"} {\"instruction\":\"b\"}\n", 1, 21, "one object per line")]
    public void Malformed_json_lines_name_line_and_column(string text, long line, int? column, string reason)
    {
        using var temp = new TempFolder();
        string path = temp.Write("bad.jsonl", text);
        var ex = Assert.Throws<DataFileException>(() => Files.ReadAll(path, DataFormat.JsonLines));
        Assert.Equal(line, ex.Line);
        Assert.Equal(column, ex.Column);
        Assert.Contains(reason, ex.Message);
    }

    [Fact]
    public void Json_arrays_stream_elements_larger_than_the_buffer()
    {
        using var temp = new TempFolder();
        string big = new('x', 200_000);
        string path = temp.Write("a.json", $"[\n  {Typed},\n  {{\"instruction\":\"{big}\"}},\n  {{\"instruction\":\"last\"}}\n]\n");
        var rows = Files.ReadAll(path, DataFormat.Json);
        Assert.Equal(3, rows.Count);
        Assert.Equal(big, rows[1]["instruction"]);
        Assert.Equal(2, rows[0].Line);
        Assert.Equal(4, rows[2].Line);
        Assert.Equal("42", ((JsonText)rows[0]["n"]!).Json);
    }

    [Theory]
    [InlineData("[\n{\"a\":1},\n{\"a\":2,}\n]", 3, "malformed JSON")]
    [InlineData("[\n{\"a\":1},\n42\n]", 3, "element 2 of the array is a number")]
    [InlineData("[\n{\"a\":1}\n{\"a\":2}\n]", 3, "expected ',' or ']'")]
    [InlineData("[\n{\"a\":1}\n", 3, "never closed")]
    [InlineData("{\"a\":1}", 1, "a JSON array of objects")]
    [InlineData("[{\"a\":1}] x", 1, "more after the closing ']'")]
    public void Malformed_json_arrays_name_the_line(string text, long line, string reason)
    {
        using var temp = new TempFolder();
        string path = temp.Write("bad.json", text);
        var ex = Assert.Throws<DataFileException>(() => Files.ReadAll(path, DataFormat.Json));
        Assert.Equal(line, ex.Line);
        Assert.Contains(reason, ex.Message);
    }

    [Fact]
    public void Empty_files_and_arrays_have_no_rows()
    {
        using var temp = new TempFolder();
        Assert.Empty(Files.ReadAll(temp.Write("e.json", ""), DataFormat.Json));
        Assert.Empty(Files.ReadAll(temp.Write("e2.json", " [ ] \n"), DataFormat.Json));
        Assert.Empty(Files.ReadAll(temp.Write("e.jsonl", "\n\n"), DataFormat.JsonLines));
    }

    [Fact]
    public void DataFlow_example_files_read_with_their_types()
    {
        var rows = Files.ReadAll(Runs.DataFile("code_input.jsonl"), DataFormat.JsonLines);
        Assert.Equal(8, rows.Count);
        Assert.Equal(JsonValueKind.Array, ((JsonText)rows[0]["lines"]!).Kind);
        Assert.Equal(JsonValueKind.Number, ((JsonText)rows[0]["line_count"]!).Kind);
        rows[0].TryGetField("lines", out var text);
        rows[0].TryGetField("text", out var expected);
        Assert.Equal(expected, text); // an array of lines reads as the text it holds
    }
}

public class WriterTests
{
    [Fact]
    public void Json_types_survive_jsonl_to_json_to_jsonl()
    {
        using var temp = new TempFolder();
        var original = Files.ReadAll(Runs.DataFile("code_input.jsonl"), DataFormat.JsonLines);
        Files.WriteAll(temp.File("a.json"), DataFormat.Json, original, []);
        var viaArray = Files.ReadAll(temp.File("a.json"), DataFormat.Json);
        Files.WriteAll(temp.File("b.jsonl"), DataFormat.JsonLines, viaArray, []);

        var source = File.ReadAllLines(Runs.DataFile("code_input.jsonl")).Where(l => l.Length > 0).ToArray();
        var result = File.ReadAllLines(temp.File("b.jsonl"));
        Assert.Equal(source.Length, result.Length);
        for (int i = 0; i < source.Length; i++)
        {
            Assert.True(JsonElement.DeepEquals(JsonDocument.Parse(source[i]).RootElement, JsonDocument.Parse(result[i]).RootElement), $"line {i + 1} changed");
        }
    }

    [Fact]
    public void Csv_round_trips_quotes_line_breaks_and_unicode_and_writes_json_values_as_json()
    {
        using var temp = new TempFolder();
        var rows = new[]
        {
            Files.Row(("id", "1"), ("text", "a, \"b\"\r\nc"), ("n", new JsonText("7", JsonValueKind.Number))),
            Files.Row(("text", "日本語 🚀"), ("id", "2"), ("n", new JsonText("[1,2]", JsonValueKind.Array))),
        };
        string path = temp.File("out.csv");
        Files.WriteAll(path, DataFormat.Csv, rows, ["id", "text", "n", "missing"]);
        Assert.StartsWith("id,text,n,missing\r\n", File.ReadAllText(path));
        var back = Files.ReadAll(path, DataFormat.Csv);
        Assert.Equal("a, \"b\"\r\nc", back[0]["text"]);
        Assert.Equal("日本語 🚀", back[1]["text"]);
        Assert.Equal("2", back[1]["id"]);
        Assert.Equal("7", back[0]["n"]);
        Assert.Equal("[1,2]", back[1]["n"]);
        Assert.Equal("", back[0]["missing"]);
    }

    [Fact]
    public void Csv_to_json_writes_strings()
    {
        using var temp = new TempFolder();
        var rows = Files.ReadAll(temp.Write("a.csv", "id,instruction\n1,x\n"), DataFormat.Csv);
        Files.WriteAll(temp.File("a.jsonl"), DataFormat.JsonLines, rows, []);
        Assert.Equal("{\"id\":\"1\",\"instruction\":\"x\"}\n", File.ReadAllText(temp.File("a.jsonl")));
    }

    [Fact]
    public void A_json_array_is_valid_after_every_flush()
    {
        using var temp = new TempFolder();
        string path = temp.File("a.json");
        using var writer = RowFiles.CreateWriter(path, DataFormat.Json, []);
        writer.Flush();
        Assert.Equal(0, JsonDocument.Parse(ReadShared(path)).RootElement.GetArrayLength());
        for (int i = 1; i <= 3; i++)
        {
            writer.Write(Files.Row(("instruction", $"task {i}")));
            writer.Flush();
            var array = JsonDocument.Parse(ReadShared(path)).RootElement;
            Assert.Equal(i, array.GetArrayLength());
            Assert.Equal($"task {i}", array[i - 1].GetProperty("instruction").GetString());
        }
    }

    [Fact]
    public void Appending_continues_each_format()
    {
        using var temp = new TempFolder();
        foreach (var format in new[] { DataFormat.Csv, DataFormat.Json, DataFormat.JsonLines })
        {
            string path = temp.File("a" + DataFormats.Extension(format));
            Files.WriteAll(path, format, [Files.Row(("instruction", "one"))], ["instruction"]);
            Files.WriteAll(path, format, [Files.Row(("instruction", "two")), Files.Row(("instruction", "three"))], ["instruction"], append: true);
            Assert.Equal(["one", "two", "three"], Files.ReadAll(path, format).Select(r => Files.Text(r, "instruction")));
        }
    }

    [Fact]
    public void Appending_to_a_file_without_a_final_line_break_starts_a_new_line()
    {
        using var temp = new TempFolder();
        string path = temp.Write("a.csv", "instruction\none");
        Files.WriteAll(path, DataFormat.Csv, [Files.Row(("instruction", "two"))], ["instruction"], append: true);
        Assert.Equal(["one", "two"], Files.ReadAll(path, DataFormat.Csv).Select(r => Files.Text(r, "instruction")));
    }

    internal static string ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        return new StreamReader(stream).ReadToEnd();
    }
}

public class OutputRepairTests
{
    private static DataRow[] SampleRows() =>
    [
        Files.Row(("instruction", "first, with a comma"), ("generated_code", "print(1)"), ("generated_code_error", null)),
        Files.Row(("instruction", "second \"quoted\""), ("generated_code", "line one\r\nline two\nline \"three\""), ("generated_code_error", null)),
        Files.Row(("instruction", "日本語"), ("generated_code", null), ("generated_code_error", "LlmHttpError: the server answered 500")),
        Files.Row(("instruction", "fourth"), ("generated_code", "x = {\"a\": [1, 2]}"), ("generated_code_error", null)),
    ];

    /// <summary>
    /// A kill can stop a write at any byte. Cut the file at every offset: repair must leave a valid file that
    /// holds exactly the rows completed before the cut, and appending afterwards must give a valid file.
    /// </summary>
    [Theory]
    [InlineData(DataFormat.Csv)]
    [InlineData(DataFormat.JsonLines)]
    [InlineData(DataFormat.Json)]
    public void A_file_cut_at_any_byte_is_repaired_to_its_complete_rows(DataFormat format)
    {
        using var temp = new TempFolder();
        var rows = SampleRows();
        string[] columns = ["instruction", "generated_code", "generated_code_error"];
        string full = temp.File("full" + DataFormats.Extension(format));
        var ends = new List<long>();
        using (var writer = RowFiles.CreateWriter(full, format, columns))
        {
            writer.Flush();
            ends.Add(new FileInfo(full).Length);
            foreach (var row in rows)
            {
                writer.Write(row);
                writer.Flush();
                // A row is complete once its last field is written: before the closing "\n]\n" of an array, and
                // before the LF of a CSV record's CRLF (the CR already ends the record).
                long length = new FileInfo(full).Length;
                ends.Add(format switch { DataFormat.Json => length - 3, DataFormat.Csv => length - 1, _ => length });
            }
        }
        byte[] bytes = File.ReadAllBytes(full);
        string cut = temp.File("cut" + DataFormats.Extension(format));
        for (int length = 0; length <= bytes.Length; length++)
        {
            File.WriteAllBytes(cut, bytes[..length]);
            OutputRepair.Repair(cut, format);
            int complete = ends.Skip(1).Count(end => end <= length);
            List<DataRow> kept;
            try
            {
                kept = Files.ReadAll(cut, format);
            }
            catch (DataFileException ex)
            {
                throw new Xunit.Sdk.XunitException($"cut at {length} of {bytes.Length}: not valid after repair: {ex.Message}");
            }
            Assert.True(complete == kept.Count, $"cut at {length}: expected {complete} rows, kept {kept.Count}");
            for (int i = 0; i < kept.Count; i++)
            {
                Assert.Equal(Files.Text(rows[i], "generated_code"), Files.Text(kept[i], "generated_code"));
            }

            Files.WriteAll(cut, format, [Files.Row(("instruction", "appended"), ("generated_code", "ok"), ("generated_code_error", null))], columns, append: true);
            var after = Files.ReadAll(cut, format);
            Assert.Equal(kept.Count + 1, after.Count);
            Assert.Equal("appended", Files.Text(after[^1], "instruction"));
        }
    }

    [Theory]
    [InlineData(DataFormat.Csv, "instruction,generated_code\r\na,\"x\"y\"\r\nb,2\r\n")]
    [InlineData(DataFormat.Csv, "instruction,generated_code\r\na\r\nb,2\r\n")]
    [InlineData(DataFormat.Json, "[\n{\"instruction\":\"a\"},\n{\"instruction\": oops},\n{\"instruction\":\"c\"}\n]\n")]
    public void Damage_before_the_end_is_refused_not_truncated(DataFormat format, string text)
    {
        using var temp = new TempFolder();
        string path = temp.Write("damaged" + DataFormats.Extension(format), text);
        var ex = Assert.Throws<DataFileException>(() => OutputRepair.Repair(path, format));
        Assert.True(ex.StartOver); // the output cannot be continued: the cmdlets advise -Force
        Assert.Equal(text, File.ReadAllText(path));
    }

    [Fact]
    public void A_whole_file_is_left_alone()
    {
        using var temp = new TempFolder();
        string path = temp.Write("a.jsonl", "{\"a\":1}\n{\"a\":2}\n");
        Assert.Equal(0, OutputRepair.Repair(path, DataFormat.JsonLines));
        Assert.Equal("{\"a\":1}\n{\"a\":2}\n", File.ReadAllText(path));
    }
}
