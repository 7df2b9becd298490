using CodeGen.Core.Storage;

namespace CodeGen.Core.Running;

/// <summary>
/// File mode's folder of outputs: when the output path names a folder rather than a file, and the name of each input's
/// output in it.
/// </summary>
public static class OutputFolder
{
    /// <summary>
    /// Whether the output path is a folder (one output file in it per input): when several inputs come, when the path as
    /// given ends with a separator, or when it is an existing folder.
    /// </summary>
    /// <param name="given">The output path as the user gave it.</param>
    /// <param name="resolved">The same path resolved to a full file-system path.</param>
    public static bool Holds(int inputs, string given, string resolved)
        => inputs > 1 || Directory.Exists(resolved) || given.EndsWith('/') || given.EndsWith(Path.DirectorySeparatorChar);

    /// <summary>
    /// The names of the inputs' outputs in a folder of outputs: each input's name with the output format's extension
    /// (tasks.csv: tasks.jsonl). Inputs that would share a name keep their own extension when theirs differ
    /// (tasks.csv.jsonl, tasks.json.jsonl), else get their folder's name in front (x_tasks.jsonl, y_tasks.jsonl),
    /// then a number. Decided over the whole set, sorted, so the names do not depend on the order the inputs came
    /// in: a later -Resume with the same inputs finds the same outputs.
    /// </summary>
    /// <param name="inputFormat">The inputs' format when given (null: each from its extension).</param>
    /// <param name="outputFormat">The outputs' format when given (null: the input's).</param>
    public static Dictionary<string, string> Names(IReadOnlyList<string> inputs, DataFormat? inputFormat, DataFormat? outputFormat)
    {
        string NameOf(string input, string stem) =>
            stem + DataFormats.Extension(outputFormat ?? inputFormat ?? DataFormats.FromExtension(input) ?? DataFormat.JsonLines);
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var group in inputs.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)
            .GroupBy(input => NameOf(input, Path.GetFileNameWithoutExtension(input)), StringComparer.OrdinalIgnoreCase))
        {
            var members = group.ToList();
            if (members.Count == 1)
            {
                names[members[0]] = group.Key;
                continue;
            }
            bool extensionsDiffer = members.Select(Path.GetExtension).Distinct(StringComparer.OrdinalIgnoreCase).Count() == members.Count;
            foreach (string input in members)
            {
                names[input] = extensionsDiffer
                    ? NameOf(input, Path.GetFileName(input))
                    : NameOf(input, $"{Path.GetFileName(Path.GetDirectoryName(input))}_{Path.GetFileNameWithoutExtension(input)}");
            }
        }
        // what is still shared (folders of the same name): numbered, in sorted order
        foreach (var clash in names.GroupBy(pair => pair.Value, StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1).ToList())
        {
            int n = 0;
            foreach (var pair in clash.OrderBy(p => p.Key, StringComparer.Ordinal).ToList())
            {
                if (n++ > 0)
                {
                    names[pair.Key] = $"{Path.GetFileNameWithoutExtension(pair.Value)}.{n}{Path.GetExtension(pair.Value)}";
                }
            }
        }
        return names;
    }
}
