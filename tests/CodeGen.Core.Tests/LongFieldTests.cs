using System.Buffers;
using System.Text;
using System.Text.Json;
using CodeGen.Core.Storage;

namespace CodeGen.Core.Tests;

/// <summary>Fields far longer than a buffer: written and read back exactly in every format, the rows after them too.</summary>
public class LongFieldTests
{
    /// <summary>Text of <paramref name="length"/> characters with everything JSON escapes or keeps: quotes, backslashes, controls, accents, emoji.</summary>
    private static string Awkward(int length)
    {
        const string Pattern = "plain \"quoted\" back\\slash\nline\ttab\u0001ctl é 日本 🚀 <html> & ' ";
        var sb = new StringBuilder(length + Pattern.Length);
        while (sb.Length < length)
        {
            sb.Append(Pattern);
        }
        sb.Length = length;
        if (char.IsHighSurrogate(sb[^1]))
        {
            sb[^1] = 'x';
        }
        return sb.ToString();
    }

    [Fact]
    public void A_string_longer_than_the_json_writer_takes_at_once_is_written_as_the_writer_would_write_it()
    {
        string text = Awkward(JsonRows.LongString + 12_345);
        var expected = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(expected, JsonRows.WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("instruction", text);
            writer.WriteEndObject();
        }

        using var temp = new TempFolder();
        string path = temp.File("long.jsonl");
        Files.WriteAll(path, DataFormat.JsonLines, [Files.Row(("instruction", text)), Files.Row(("instruction", "after"))], []);

        byte[] written = File.ReadAllBytes(path);
        Assert.Equal([.. expected.WrittenSpan.ToArray(), .. "\n{\"instruction\":\"after\"}\n"u8.ToArray()], written);
        var back = Files.ReadAll(path, DataFormat.JsonLines);
        Assert.Equal(text, back[0]["instruction"]);
        Assert.Equal("after", back[1]["instruction"]);
    }

    [Theory]
    [InlineData("rows.jsonl", DataFormat.JsonLines)]
    [InlineData("rows.json", DataFormat.Json)]
    [InlineData("rows.csv", DataFormat.Csv)]
    public void A_row_with_a_field_of_megabytes_round_trips_between_short_ones(string name, DataFormat format)
    {
        string big = Awkward(3 * 1024 * 1024);
        var rows = new[] { ("1", "short"), ("2", big), ("3", "after"), ("4", "and after") }
            .Select(r => Files.Row(("id", r.Item1), ("instruction", r.Item2))).ToList();
        using var temp = new TempFolder();
        string path = temp.File(name);
        Files.WriteAll(path, format, rows, ["id", "instruction"]);

        var back = Files.ReadAll(path, format);
        Assert.Equal(["short", big, "after", "and after"], back.Select(r => Files.Text(r, "instruction")));
        Assert.Equal(["1", "2", "3", "4"], back.Select(r => Files.Text(r, "id")));
    }
}
