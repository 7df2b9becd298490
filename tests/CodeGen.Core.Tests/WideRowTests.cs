using System.Text;
using CodeGen.Core.Storage;

namespace CodeGen.Core.Tests;

/// <summary>
/// Rows with many columns: found by name through an index, which must give the same answers as the plain rule
/// (the first field with exactly the name, else the first with it in another case), and files that round-trip exactly.
/// </summary>
public class WideRowTests
{
    /// <summary>The rule an index must keep, written out as a scan.</summary>
    private static int Scan(DataRow row, string name)
    {
        for (int i = 0; i < row.Count; i++)
        {
            if (string.Equals(row.NameAt(i), name, StringComparison.Ordinal))
            {
                return i;
            }
        }
        for (int i = 0; i < row.Count; i++)
        {
            if (string.Equals(row.NameAt(i), name, StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }
        return -1;
    }

    /// <summary>Names with exact duplicates and case variants spread through them, as JSON objects may have.</summary>
    private static string[] AwkwardNames(int count)
    {
        var names = new string[count];
        for (int i = 0; i < count; i++)
        {
            names[i] = (i % 7) switch
            {
                3 => $"col{i - 1}".ToUpperInvariant(),   // a case variant of the name before it
                5 => $"col{i / 2}",                      // an earlier name again, exactly (or a new one)
                6 => $"Col{i / 3}",                      // another case of an earlier name
                _ => $"col{i}",
            };
        }
        return names;
    }

    private static IEnumerable<string> Probes(string[] names)
        => names.Concat(names.Select(n => n.ToUpperInvariant())).Concat(names.Select(n => n.ToLowerInvariant()))
            .Concat(["missing", "COL", "", "extra1", "EXTRA1", "Extra2"]);

    [Theory]
    [InlineData(5)]
    [InlineData(17)]
    [InlineData(40)]
    [InlineData(2_000)]
    public void Every_way_of_building_a_row_finds_fields_as_a_scan_would(int count)
    {
        string[] names = AwkwardNames(count);

        var added = new DataRow();
        foreach (var name in names)
        {
            added.Add(name, name);
        }
        var shared = new DataRow(names, names.Cast<object?>().ToArray(), names.Length, index: NameIndex.For(names));
        var unindexed = new DataRow(names, names.Cast<object?>().ToArray(), names.Length);
        var extended = shared.ExtendTo([.. names, "extra1", "EXTRA1"]);
        var grown = new DataRow(names, names.Cast<object?>().ToArray(), names.Length, index: NameIndex.For(names));
        for (int i = 0; i < 40; i++)
        {
            grown.Add($"Extra{i}", i); // past the few names a row scans after its shared index
        }

        foreach (var row in new[] { added, shared, unindexed, extended, grown })
        {
            foreach (var probe in Probes(row.Names.Take(row.Count).ToArray()))
            {
                Assert.Equal(Scan(row, probe), row.IndexOf(probe));
            }
        }
    }

    [Fact]
    public void Set_replaces_a_field_in_any_case_and_adds_new_ones_at_the_end_of_a_wide_row()
    {
        string[] header = Enumerable.Range(0, 1_000).Select(i => $"c{i}").ToArray();
        var index = NameIndex.For(header);
        var first = new DataRow(header, new object?[header.Length], header.Length, index: index);
        var second = new DataRow(header, new object?[header.Length], header.Length, index: index);

        first.Set("C500", "x");
        Assert.Equal("x", first["c500"]);
        Assert.Equal(header.Length, first.Count);
        for (int i = 0; i < 100; i++)
        {
            first.Set($"new{i}", i);
            first.Set($"NEW{i}", i + 1); // the same field in another case
        }
        Assert.Equal(header.Length + 100, first.Count);
        Assert.Equal("new99", first.NameAt(first.Count - 1));
        Assert.Equal(100, first["new99"]);
        Assert.Equal(header.Length, second.Count); // rows sharing the header are untouched
        Assert.Equal(-1, second.IndexOf("new0"));
        Assert.Equal("c999", header[^1]);
    }

    [Fact]
    public void A_csv_of_20000_columns_round_trips_exactly()
    {
        using var temp = new TempFolder();
        const int Columns = 20_000;
        var sb = new StringBuilder("instruction");
        for (int i = 1; i < Columns; i++)
        {
            sb.Append(",col").Append(i);
        }
        sb.Append("\r\n");
        for (int r = 1; r <= 3; r++)
        {
            sb.Append("task ").Append(r);
            for (int i = 1; i < Columns; i++)
            {
                sb.Append(',').Append(i % 101 == 0 ? "\"a, \"\"b\"\"\"" : $"v{r}-{i}");
            }
            sb.Append("\r\n");
        }
        string input = temp.Write("wide.csv", sb.ToString());

        var rows = Files.ReadAll(input, DataFormat.Csv);
        Assert.Equal("v2-19999", rows[1]["COL19999"]);
        string output = temp.File("out.csv");
        using (var reader = RowFiles.OpenReader(input, DataFormat.Csv))
        {
            Files.WriteAll(output, DataFormat.Csv, rows, reader.Columns!.ToArray());
        }
        Assert.Equal(File.ReadAllBytes(input), File.ReadAllBytes(output));

        // through JSON Lines, where every row has its own names, and back to CSV
        string jsonl = temp.File("wide.jsonl");
        Files.WriteAll(jsonl, DataFormat.JsonLines, rows, []);
        string again = temp.File("again.csv");
        Files.WriteAll(again, DataFormat.Csv, Files.ReadAll(jsonl, DataFormat.JsonLines), rows[0].Names);
        Assert.Equal(File.ReadAllBytes(input), File.ReadAllBytes(again));
    }

    [Fact]
    public void A_csv_writer_takes_each_column_from_the_field_a_lookup_finds()
    {
        using var temp = new TempFolder();
        var names = AwkwardNames(100);
        var row = new DataRow();
        for (int i = 0; i < names.Length; i++)
        {
            row.Add(names[i], $"v{i}");
        }
        string[] columns = names.Distinct(StringComparer.OrdinalIgnoreCase).ToArray();
        string path = temp.File("out.csv");
        Files.WriteAll(path, DataFormat.Csv, [row], columns);
        var back = Files.ReadAll(path, DataFormat.Csv).Single();
        foreach (var column in columns)
        {
            Assert.Equal(row.ValueAt(Scan(row, column)), back[column]);
        }
    }
}
