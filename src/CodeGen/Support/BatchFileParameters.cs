using System.Management.Automation;

namespace CodeGen.Commands.Support;

/// <summary>
/// How much goes into one batch request file: declared once for Export-CodeGenBatch, which writes the files, and
/// Invoke-CodeInstructionToCode -Batch, which writes and submits them (<see cref="ParameterGroups"/>).
/// </summary>
public sealed class BatchFileParameters
{
    /// <summary>Requests per file (per batch). Default: the provider's limit (OpenAI 50,000, Anthropic 100,000).</summary>
    [Parameter]
    [ValidateRange(1L, long.MaxValue)]
    public long? MaxRequestsPerFile { get; set; }

    /// <summary>Bytes of requests per file (per batch). Default: the provider's limit (OpenAI 200 MB, Anthropic 256 MB).</summary>
    [Parameter]
    [ValidateRange(1024L, long.MaxValue)]
    public long? MaxBytesPerFile { get; set; }
}
