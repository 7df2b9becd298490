using System.Management.Automation;
using System.Text;
using CodeGen.Commands.Rows;
using CodeGen.Commands.Support;
using CodeGen.Core.Storage;

namespace CodeGen.Commands;

/// <summary>
/// Import-CodeGenData: streams the rows of CSV, JSON or JSONL files as PSCustomObjects, one at a time, with
/// the same readers file mode uses. JSON values keep their types.
/// </summary>
[Cmdlet(VerbsData.Import, "CodeGenData")]
[OutputType(typeof(PSObject))]
public sealed class ImportCodeGenDataCommand : CancellableCmdlet, IDynamicParameters
{
    /// <summary>The format, separator and encoding of the files (<see cref="ParameterGroups"/>).</summary>
    private readonly ParameterGroups _groups = new ParameterGroups()
        .Offer<DataFileParameters>(only: DataFileParameters.OneFormat);

    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName", "PSPath", "LiteralPath")]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    public object GetDynamicParameters() => _groups.Parameters;

    protected override void ProcessRecord()
    {
        var files = _groups.Get<DataFileParameters>();
        foreach (var item in Path)
        {
            string path = GetUnresolvedProviderPathFromPSPath(item);
            Engine(() =>
            {
                var format = DataFormats.Resolve(path, files.InputDataFormat);
                using var reader = RowFiles.OpenReader(path, format, files.Csv);
                var objects = new RowObjectFactory();
                while (!StoppingToken.IsCancellationRequested && reader.Read(out var row))
                {
                    WriteObject(objects.Create(row));
                }
            }, path);
        }
    }

}
