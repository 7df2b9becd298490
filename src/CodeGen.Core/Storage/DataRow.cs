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

    /// <summary>A row over <paramref name="names"/> (which may be shared by many rows: it is copied before it changes).</summary>
    public DataRow(string[] names, object?[] values, int count, long line = 0, bool namesShared = true)
    {
        _names = names;
        _values = values;
        _count = count;
        _sharedNames = namesShared;
        Line = line;
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

    public int IndexOf(string name)
    {
        for (int i = 0; i < _count; i++)
        {
            if (string.Equals(_names[i], name, StringComparison.Ordinal))
            {
                return i;
            }
        }
        for (int i = 0; i < _count; i++)
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
        if (_sharedNames || _count == _names.Length)
        {
            int capacity = Math.Max(_count + 2, _names.Length);
            Array.Resize(ref _names, capacity);
            Array.Resize(ref _values, capacity);
            _sharedNames = false;
        }
        _names[_count] = name;
        _values[_count] = value;
        _count++;
    }

    /// <summary>
    /// This row over <paramref name="names"/>, which must start with this row's names: the added fields are null.
    /// Rows that share one names array (a CSV file's header) extended to one shared array stay cheap to set and to write.
    /// </summary>
    public DataRow ExtendTo(string[] names)
    {
        var values = new object?[names.Length];
        Array.Copy(_values, values, _count);
        return new DataRow(names, values, names.Length, Line);
    }

    /// <summary>Adds a field without looking for an existing one (readers building a row).</summary>
    public void Add(string name, object? value)
    {
        if (_count == _names.Length)
        {
            Array.Resize(ref _names, Math.Max(4, _count * 2));
            Array.Resize(ref _values, _names.Length);
        }
        _names[_count] = name;
        _values[_count] = value;
        _count++;
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
