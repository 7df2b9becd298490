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
public sealed class ImportCodeGenDataCommand : CancellableCmdlet
{

    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName", "PSPath", "LiteralPath")]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    /// <summary>The format when the extension does not say it.</summary>
    [Parameter]
    [ValidateSet("csv", "json", "jsonl", "ndjson", IgnoreCase = true)]
    public string? Format { get; set; }

    [Parameter]
    public char Delimiter { get; set; } = ',';

    /// <summary>Encoding of CSV files (default UTF-8; byte order marks are honoured).</summary>
    [Parameter]
    [EncodingTransformation]
    [ArgumentCompleter(typeof(EncodingCompleter))]
    public Encoding? Encoding { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var item in Path)
        {
            string path = GetUnresolvedProviderPathFromPSPath(item);
            Engine(() =>
            {
                var format = DataFormats.Resolve(path, Format is null ? null : DataFormats.Parse(Format));
                using var reader = RowFiles.OpenReader(path, format, new CsvSettings(Delimiter, Encoding));
                var objects = new RowObjectFactory();
                while (!StoppingToken.IsCancellationRequested && reader.Read(out var row))
                {
                    WriteObject(objects.Create(row));
                }
            }, path);
        }
    }

}
