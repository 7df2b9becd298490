using System.Management.Automation;
using CodeGen.Commands.Support;
using CodeGen.Core.Storage;

namespace CodeGen.Commands;

/// <summary>
/// New-CodeGenStorage: DataFlow-style step storage. Pass it to Invoke-CodeInstructionToCode -Storage: each run
/// reads the current step (the first entry file at step 0) and writes &lt;prefix&gt;_step&lt;n+1&gt; in the cache folder.
/// </summary>
[Cmdlet(VerbsCommon.New, "CodeGenStorage", SupportsShouldProcess = true)]
[OutputType(typeof(StepStorage))]
public sealed class NewCodeGenStorageCommand : CancellableCmdlet, IDynamicParameters
{
    /// <summary>-CacheType, whose values are the data formats' own names (<see cref="StepFormatParameters"/>).</summary>
    private readonly ParameterGroups _groups = new ParameterGroups().Offer<StepFormatParameters>();

    /// <summary>The first entry file: the rows step 0 reads.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [Alias("FirstEntryFileName")]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = null!;

    /// <summary>The folder that holds the step files (created when missing).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string CachePath { get; set; } = "./cache";

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string FileNamePrefix { get; set; } = "codegen";

    public object GetDynamicParameters() => _groups.Parameters;

    protected override void ProcessRecord()
    {
        string first = GetUnresolvedProviderPathFromPSPath(Path);
        string cache = GetUnresolvedProviderPathFromPSPath(CachePath);
        if (!File.Exists(first))
        {
            WriteError(ErrorRecords.ForUsage(DataFileException.DataFileNotFound, $"The first entry file {first} does not exist.",
                "Pass -Path the data file the first step reads.", first, new FileNotFoundException($"The first entry file {first} does not exist.", first), ErrorCategory.ObjectNotFound));
            return;
        }
        StepStorage storage;
        try
        {
            storage = new StepStorage(first, cache, FileNamePrefix, DataFormats.Parse(_groups.Get<StepFormatParameters>().CacheType));
        }
        catch (ArgumentException ex)
        {
            WriteError(ErrorRecords.ForUsage("InvalidStorage", ex.Message, "Fix the parameter the message names (-FileNamePrefix, -CacheType or -CachePath).", FileNamePrefix, ex));
            return;
        }
        if (ShouldProcess(cache, "Create the cache folder"))
        {
            Directory.CreateDirectory(cache);
        }
        WriteObject(storage);
    }
}
