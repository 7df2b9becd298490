namespace CodeGen.Core.Rows;

/// <summary>
/// Read access to one input row, whatever it came from (a PowerShell object, a dictionary, a CSV record).
/// The engine only ever reads fields as text; adapters decide how a value becomes text.
/// </summary>
public interface IRowFields
{
    /// <summary>True when the row has a field of that name (even if its value is null or empty).</summary>
    bool HasField(string name);

    /// <summary>Returns false when the row has no field of that name; a present null field gives true and null.</summary>
    bool TryGetField(string name, out string? value);
}
