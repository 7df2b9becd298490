using System.Collections;
using System.Collections.Specialized;
using System.Globalization;
using System.Management.Automation;
using CodeGen.Core.Rows;
using CodeGen.Core.Running;
using CodeGen.Core.Storage;

namespace CodeGen.Commands.Rows;

/// <summary>
/// Adapts one pipeline input to an engine row, and writes the generated code back into it.
/// Three shapes: objects (Import-Csv, ConvertFrom-Json, any .NET object), dictionaries (hashtables,
/// [ordered]), and strings (the instruction itself). Must be read on the pipeline thread: property getters
/// of arbitrary objects may run script.
/// </summary>
internal abstract class PipelineRow : IOutcomeRow
{
    /// <summary>The input as the user passed it: the TargetObject of this row's errors.</summary>
    public abstract object Source { get; }

    public abstract bool HasField(string name);

    public abstract bool TryGetField(string name, out string? value);

    /// <summary>The object to write to the pipeline, with the fields set so far.</summary>
    public abstract object Result { get; }

    /// <summary>Sets a field of the result, adding it when the result has none (what a failure keeps: <see cref="OutcomeColumns"/>).</summary>
    public abstract void Set(string key, object? value);

    void IOutcomeRow.Set(string key, string? value) => Set(key, value);

    void IOutcomeRow.SetCount(string key, long? count) => Set(key, count);

    public static PipelineRow From(PSObject input, string inputKey) => input.BaseObject switch
    {
        string text => new InstructionRow(text, inputKey, input),
        IDictionary dictionary => new DictionaryRow(dictionary),
        _ => new ObjectRow(input),
    };

    /// <summary>
    /// How a field value becomes prompt text: the one rule of every mode. The value becomes a row value as
    /// Export-CodeGenData writes it (dates ISO 8601, numbers and booleans as JSON, dictionaries and objects as JSON
    /// objects, arrays as JSON arrays), which reads into a prompt as a data file's field does (an array of plain
    /// values one item per line).
    /// </summary>
    internal static string? ToText(object? value) => DataRow.ToText(RowConversion.ToRowValue(value));
}

/// <summary>A plain string: the instruction itself. Emits a new object with the input and output keys.</summary>
internal sealed class InstructionRow : PipelineRow
{
    private readonly string _instruction;
    private readonly string _inputKey;
    private readonly object _source;

    public InstructionRow(string instruction, string inputKey, object? source = null)
    {
        _instruction = instruction;
        _inputKey = inputKey;
        _source = source ?? instruction;
    }

    public override object Source => _source;

    public override bool HasField(string name) => string.Equals(name, _inputKey, StringComparison.OrdinalIgnoreCase);

    public override bool TryGetField(string name, out string? value)
    {
        value = HasField(name) ? _instruction : null;
        return value is not null;
    }

    private PSObject? _result;

    public override object Result => _result ??= NewResult();

    public override void Set(string key, object? value)
    {
        var result = (PSObject)Result;
        if (result.Properties[key] is { } existing)
        {
            existing.Value = value;
            return;
        }
        result.Properties.Add(new PSNoteProperty(key, value));
    }

    private PSObject NewResult()
    {
        var result = new PSObject();
        result.Properties.Add(new PSNoteProperty(_inputKey, _instruction));
        return result;
    }
}

/// <summary>A hashtable or other dictionary. Keys are matched case-insensitively, as PowerShell does.</summary>
internal sealed class DictionaryRow : PipelineRow
{
    private readonly IDictionary _dictionary;

    public DictionaryRow(IDictionary dictionary) => _dictionary = dictionary;

    public override object Source => _dictionary;

    public override bool HasField(string name) => FindKey(name, out _);

    public override bool TryGetField(string name, out string? value)
    {
        if (FindKey(name, out var key))
        {
            value = ToText(_dictionary[key]);
            return true;
        }
        value = null;
        return false;
    }

    private IDictionary? _copy;

    public override object Result => _copy ?? _dictionary;

    public override void Set(string key, object? value)
    {
        var target = _copy ?? _dictionary;
        if (target.IsReadOnly || target.IsFixedSize)
        {
            // a read-only dictionary gets an ordered copy, which carries the new fields
            var copy = new OrderedDictionary(StringComparer.OrdinalIgnoreCase);
            foreach (DictionaryEntry entry in target)
            {
                copy[entry.Key] = entry.Value;
            }
            _copy = target = copy;
        }
        target[FindKey(key, out var actual) ? actual : key] = value;
    }

    private bool FindKey(string name, out object key)
    {
        if ((_copy ?? _dictionary).Contains(name))
        {
            key = name;
            return true;
        }
        foreach (var candidate in (_copy ?? _dictionary).Keys)
        {
            if (candidate is string text && string.Equals(text, name, StringComparison.OrdinalIgnoreCase))
            {
                key = candidate;
                return true;
            }
        }
        key = name;
        return false;
    }
}

/// <summary>Any other object: fields are its properties (note properties of Import-Csv rows, .NET properties).</summary>
internal sealed class ObjectRow : PipelineRow
{
    private readonly PSObject _object;

    public ObjectRow(PSObject input) => _object = input;

    public override object Source => _object;

    public override bool HasField(string name) => _object.Properties[name] is not null;

    public override bool TryGetField(string name, out string? value)
    {
        var property = _object.Properties[name];
        if (property is null)
        {
            value = null;
            return false;
        }
        object? raw;
        try
        {
            raw = property.Value;
        }
        catch (GetValueException)
        {
            raw = null; // a property whose getter throws reads as empty
        }
        value = ToText(raw);
        return true;
    }

    public override object Result => _object;

    public override void Set(string key, object? value)
    {
        var existing = _object.Properties[key];
        if (existing is null)
        {
            _object.Properties.Add(new PSNoteProperty(key, value));
        }
        else
        {
            existing.Value = value;
        }
    }
}
