using System.Management.Automation;
using System.Text;
using CodeGen.Core.Storage;

namespace CodeGen.Commands.Support;

/// <summary>
/// The parameters that say how a data file is read and written: its format when the extension does not say it
/// (-Format for every file of the command, or -InputFormat and -OutputFormat), the CSV separator and the encoding of a
/// CSV input. Declared once for every command that reads or writes data files, which offers those it has in its own
/// parameter sets (<see cref="ParameterGroups"/>).
/// </summary>
public sealed class DataFileParameters
{
    /// <summary>-Format, -Delimiter and -Encoding: what a command that reads (or writes) one kind of file offers.</summary>
    internal static readonly string[] OneFormat = [nameof(Format), nameof(Delimiter), nameof(Encoding)];

    /// <summary>-Format, -InputFormat and -OutputFormat.</summary>
    internal static readonly string[] Formats = [nameof(Format), nameof(InputFormat), nameof(OutputFormat)];

    /// <summary>-Delimiter and -Encoding.</summary>
    internal static readonly string[] CsvDialect = [nameof(Delimiter), nameof(Encoding)];

    /// <summary>The format of the files (both, where there are two) when their extensions do not say it.</summary>
    [Parameter]
    [DataFormatSet]
    public string? Format { get; set; }

    /// <summary>The format of the input, when its extension does not say it; before -Format.</summary>
    [Parameter]
    [DataFormatSet]
    public string? InputFormat { get; set; }

    /// <summary>The format of the output, when its extension does not say it; before -Format.</summary>
    [Parameter]
    [DataFormatSet]
    public string? OutputFormat { get; set; }

    /// <summary>CSV field separator (input and output).</summary>
    [Parameter]
    public char Delimiter { get; set; } = ',';

    /// <summary>Encoding of a CSV input (default UTF-8; byte order marks are honoured). Output is UTF-8.</summary>
    [Parameter]
    [EncodingTransformation]
    [ArgumentCompleter(typeof(EncodingCompleter))]
    public Encoding? Encoding { get; set; }

    /// <summary>The input's format as given (-InputFormat, else -Format); null: its extension says it.</summary>
    internal DataFormat? InputDataFormat => Parse(InputFormat ?? Format);

    /// <summary>The output's format as given (-OutputFormat, else -Format); null: its extension says it.</summary>
    internal DataFormat? OutputDataFormat => Parse(OutputFormat ?? Format);

    internal CsvSettings Csv => new(Delimiter, Encoding);

    private static DataFormat? Parse(string? name) => name is null ? null : DataFormats.Parse(name);
}

/// <summary>
/// New-CodeGenStorage -CacheType: the format of the step files, by a format's own name (csv, json, jsonl). Offered as a
/// group (<see cref="ParameterGroups"/>) so that its values come from the one list of formats.
/// </summary>
public sealed class StepFormatParameters
{
    [Parameter]
    [DataFormatSet(OwnNamesOnly = true)]
    public string CacheType { get; set; } = "jsonl";
}
