using System.Management.Automation;
using System.Text;
using CodeGen.Commands.Rows;
using CodeGen.Commands.Support;
using CodeGen.Core.Storage;

namespace CodeGen.Commands;

/// <summary>
/// Export-CodeGenData: writes pipeline objects to a CSV, JSON or JSONL file with the writers file mode uses.
/// CSV columns come from the first object (or the existing header with -Append), as with Export-Csv.
/// </summary>
[Cmdlet(VerbsData.Export, "CodeGenData", SupportsShouldProcess = true)]
[OutputType(typeof(void))]
public sealed class ExportCodeGenDataCommand : CancellableCmdlet, IDynamicParameters
{
    /// <summary>The format, separator and encoding of the file (<see cref="ParameterGroups"/>).</summary>
    private readonly ParameterGroups _groups = new ParameterGroups()
        .Offer<DataFileParameters>(only: DataFileParameters.OneFormat);
    private IRowWriter? _writer;
    private string _path = string.Empty;
    private DataFormat _format;
    private bool _skip;

    [Parameter(Mandatory = true, Position = 0)]
    [Alias("LiteralPath")]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = null!;

    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    public PSObject InputObject { get; set; } = null!;

    /// <summary>Add rows to an existing file instead of replacing it.</summary>
    [Parameter]
    public SwitchParameter Append { get; set; }

    /// <summary>Refuse to replace an existing file.</summary>
    [Parameter]
    public SwitchParameter NoClobber { get; set; }

    public object GetDynamicParameters() => _groups.Parameters;

    private DataFileParameters Files => _groups.Get<DataFileParameters>();

    protected override void BeginProcessing()
    {
        _path = GetUnresolvedProviderPathFromPSPath(Path);
        _format = Engine(() => DataFormats.Resolve(_path, Files.OutputDataFormat), _path);
        if (NoClobber && !Append && File.Exists(_path))
        {
            ThrowTerminatingError(ErrorRecords.ForUsage(DataFileException.OutputFileExists, $"{_path} already exists and -NoClobber was given.",
                "Leave -NoClobber out to replace it, pass -Append to add the rows to it, or write to another -Path.", _path,
                new IOException($"{_path} already exists and -NoClobber was given."), ErrorCategory.ResourceExists));
        }
        _skip = !ShouldProcess(_path, Append ? "Append rows" : "Write rows");
    }

    protected override void ProcessRecord()
    {
        if (_skip)
        {
            return;
        }
        var row = RowConversion.ToDataRow(InputObject);
        Engine(() =>
        {
            _writer ??= CreateWriter(Enumerable.Range(0, row.Count).Select(row.NameAt).ToArray());
            _writer.Write(row);
        }, _path);
    }

    protected override void EndProcessing()
    {
        if (!_skip)
        {
            _writer ??= CreateWriter([]);
        }
        CloseWriter();
    }

    private void CloseWriter()
    {
        _writer?.Dispose();
        _writer = null;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            CloseWriter();
        }
        base.Dispose(disposing);
    }

    private IRowWriter CreateWriter(string[] columns)
    {
        bool append = Append && File.Exists(_path);
        if (append && _format == DataFormat.Csv)
        {
            using var existing = RowFiles.OpenReader(_path, DataFormat.Csv, Files.Csv);
            if (existing.Columns is { Count: > 0 } header)
            {
                columns = header.ToArray();
            }
        }
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(_path)!);
        return RowFiles.CreateWriter(_path, _format, columns, Files.Csv, append);
    }
}
