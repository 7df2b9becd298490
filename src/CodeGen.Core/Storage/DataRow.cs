using CodeGen.Core.Rows;

namespace CodeGen.Core.Storage;

/// <summary>
/// One record of a data file: named fields in file order. A value is a <see cref="string"/>, null (JSON null,
/// or a field the row lacks), or <see cref="JsonText"/> for JSON numbers, booleans, objects and arrays.
/// Names match case-insensitively, as in PowerShell.
/// </summary>
public sealed class DataRow : IRowFields
{
    private string[] _names;
    private object?[] _values;
    private int _count;
    private bool _sharedNames;

    // Finds names in constant time: _index covers the first _index.Count names (an index shared by the rows of one
    // header, or this row's own), and the few names after them are scanned. Only mutations (Set, Add) change it, so
    // rows are as safe to read from several threads as they were.
    private NameIndex? _index;
    private bool _ownsIndex;

    /// <summary>
    /// A row over <paramref name="names"/> (which may be shared by many rows: it is copied before it changes).
    /// <paramref name="index"/> is <see cref="NameIndex.For"/> of those names, built once for all the rows that share them.
    /// </summary>
    public DataRow(string[] names, object?[] values, int count, long line = 0, bool namesShared = true, NameIndex? index = null)
    {
        _names = names;
        _values = values;
        _count = count;
        _sharedNames = namesShared;
        Line = line;
        _index = index is not null && index.Count <= count ? index : null;
        if (_count - (_index?.Count ?? 0) > 4 * NameIndex.ScanLimit)
        {
            // a wide row given no index for its names (rows of a few dozen are scanned: cheaper than an index per row)
            _index = NameIndex.For(names, count);
            _ownsIndex = true;
        }
    }

    public DataRow(int capacity = 8, long line = 0)
        : this(new string[capacity], new object?[capacity], 0, line, namesShared: false)
    {
    }

    /// <summary>1-based line of the file where the row starts (0 when not from a file).</summary>
    public long Line { get; }

    public int Count => _count;

    public string NameAt(int index) => _names[index];

    public object? ValueAt(int index) => _values[index];

    /// <summary>The names array, for writers that map columns once per distinct array.</summary>
    internal string[] Names => _names;

    /// <summary>The position of a field: the first with exactly this name, else the first with it in another case; -1 when none.</summary>
    public int IndexOf(string name)
    {
        int indexed = _index?.Count ?? 0;
        int ignoringCase = -1;
        if (_index is not null && _index.Find(name, out bool exact) is int found and >= 0)
        {
            if (exact)
            {
                return found;
            }
            ignoringCase = found;
        }
        for (int i = indexed; i < _count; i++)
        {
            if (string.Equals(_names[i], name, StringComparison.Ordinal))
            {
                return i;
            }
        }
        if (ignoringCase >= 0)
        {
            return ignoringCase;
        }
        for (int i = indexed; i < _count; i++)
        {
            if (string.Equals(_names[i], name, StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }
        return -1;
    }

    public object? this[string name] => IndexOf(name) is int i and >= 0 ? _values[i] : null;

    /// <summary>Replaces the value of a field, or adds the field at the end.</summary>
    public void Set(string name, object? value)
    {
        int index = IndexOf(name);
        if (index >= 0)
        {
            _values[index] = value;
            return;
        }
        if (_sharedNames)
        {
            // a row of a shared header gains a few fields: copy the names once, with room for them
            Resize(Math.Max(_count + 4, _names.Length));
            _sharedNames = false;
        }
        Append(name, value);
    }

    /// <summary>
    /// This row over <paramref name="names"/>, which must start with this row's names: the added fields are null.
    /// Rows that share one names array (a CSV file's header) extended to one shared array stay cheap to set and to write.
    /// </summary>
    public DataRow ExtendTo(string[] names)
    {
        var values = new object?[names.Length];
        Array.Copy(_values, values, _count);
        _ownsIndex = false; // both rows use the index from now on: neither may change it
        return new DataRow(names, values, names.Length, Line, index: _index);
    }

    /// <summary>Adds a field without looking for an existing one (readers building a row).</summary>
    public void Add(string name, object? value)
    {
        if (_sharedNames)
        {
            Resize(Math.Max(_count + 4, _names.Length));
            _sharedNames = false;
        }
        Append(name, value);
    }

    private void Append(string name, object? value)
    {
        if (_count == _names.Length)
        {
            Resize(Math.Max(4, _count * 2));
        }
        _names[_count] = name;
        _values[_count] = value;
        _count++;
        int unindexed = _count - (_index?.Count ?? 0);
        if (_ownsIndex)
        {
            _index!.Add(name);
        }
        else if (unindexed > NameIndex.ScanLimit)
        {
            _index = NameIndex.For(_names, _count);
            _ownsIndex = true;
        }
    }

    private void Resize(int capacity)
    {
        Array.Resize(ref _names, capacity);
        Array.Resize(ref _values, capacity);
    }

    public bool HasField(string name) => IndexOf(name) >= 0;

    public bool TryGetField(string name, out string? value)
    {
        int index = IndexOf(name);
        if (index < 0)
        {
            value = null;
            return false;
        }
        value = ToText(_values[index]);
        return true;
    }

    /// <summary>The text of a field value, as prompts and CSV cells see it.</summary>
    public static string? ToText(object? value) => value switch
    {
        null => null,
        string s => s,
        JsonText json => json.ToPromptText(),
        _ => value.ToString(),
    };

    /// <summary>True when the field holds non-blank text (an answered output column).</summary>
    public bool HasText(string name) => !string.IsNullOrWhiteSpace(ToText(this[name]));
}

/// <summary>
/// The positions of a list of field names, by name: the first position of each name ignoring case, and, only for
/// names that also occur in another case, the first position of the exact name. Built once per header and shared by
/// its rows (read-only once shared), so that finding a field or mapping a row to columns costs the same at 80,000
/// columns as at 8.
/// </summary>
public sealed class NameIndex
{
    /// <summary>Rows with at most this many names beyond their index scan them: cheaper than hashing for a handful.</summary>
    internal const int ScanLimit = 16;

    // name ignoring case -> the first name in that case and its position
    private readonly Dictionary<string, (string Name, int Position)> _ignoringCase;
    private Dictionary<string, int>? _exact;

    private NameIndex(int capacity)
        => _ignoringCase = new Dictionary<string, (string, int)>(capacity, StringComparer.OrdinalIgnoreCase);

    /// <summary>How many names, from the first, the index covers.</summary>
    public int Count { get; private set; }

    /// <summary>An index of the first <paramref name="count"/> names (all of them by default).</summary>
    public static NameIndex For(string[] names, int count = -1)
    {
        if (count < 0)
        {
            count = names.Length;
        }
        var index = new NameIndex(count);
        for (int i = 0; i < count; i++)
        {
            index.Add(names[i], i);
        }
        return index;
    }

    /// <summary>Appends the name at position <see cref="Count"/> (a row's own index, as the row grows).</summary>
    internal void Add(string name) => Add(name, Count);

    private void Add(string name, int position)
    {
        if (!_ignoringCase.TryAdd(name, (name, position)) && !string.Equals(_ignoringCase[name].Name, name, StringComparison.Ordinal))
        {
            // another case of a name already here: keep the exact name's first position too
            (_exact ??= new Dictionary<string, int>(StringComparer.Ordinal)).TryAdd(name, position);
        }
        Count = position + 1;
    }

    /// <summary>The first position of <paramref name="name"/>: exactly when <paramref name="exact"/>, else the first ignoring case; -1 when none.</summary>
    public int Find(string name, out bool exact)
    {
        if (!_ignoringCase.TryGetValue(name, out var first))
        {
            exact = false;
            return -1;
        }
        int position = first.Position;
        if (string.Equals(first.Name, name, StringComparison.Ordinal))
        {
            exact = true;
            return position;
        }
        if (_exact is not null && _exact.TryGetValue(name, out int exactPosition))
        {
            exact = true;
            return exactPosition;
        }
        exact = false;
        return position;
    }
}
