using System.Management.Automation;
using System.Security;
using CodeGen.Commands.Rows;
using CodeGen.Commands.Support;
using CodeGen.Core.Llm;
using CodeGen.Core.Prompting;
using CodeGen.Core.Rows;
using CodeGen.Core.Running;

namespace CodeGen.Commands;

/// <summary>
/// Invoke-CodeInstructionToCode: for each row, asks an OpenAI-compatible LLM to write the code its instruction
/// describes and adds it to the row. Requests overlap (-ThrottleLimit); rows come out in input order.
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "CodeInstructionToCode", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low,
    DefaultParameterSetName = InputObjectSet)]
[OutputType(typeof(PSObject))]
public sealed class InvokeCodeInstructionToCodeCommand : PSCmdlet, IDisposable
{
    private const string InputObjectSet = "InputObject";
    private const string InstructionSet = "Instruction";
    private static readonly TimeSpan PumpInterval = TimeSpan.FromMilliseconds(200);

    private readonly CancellationTokenSource _stopping = new();
    private ChatCompletionClient? _client;
    private GenerationRun? _run;
    private RunProgress? _progress;
    private bool _verbose;
    private string _action = string.Empty;

    /// <summary>A row: an object with the instruction column, a hashtable, or a string that is the instruction itself.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = InputObjectSet)]
    public PSObject InputObject { get; set; } = null!;

    /// <summary>Instructions given directly; each becomes a row with the input and output columns.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = InstructionSet)]
    [ValidateNotNull]
    public string[] Instruction { get; set; } = [];

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string InputKey { get; set; } = GenerationOptions.DefaultInputKey;

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string OutputKey { get; set; } = GenerationOptions.DefaultOutputKey;

    /// <summary>Overwrite the output column when a row already has it.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>The user message, with {column} placeholders; {{ and }} are literal braces.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? PromptTemplate { get; set; }

    [Parameter]
    public string? SystemPrompt { get; set; }

    /// <summary>The language to ask for (default prompt) and to prefer among several code blocks.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Language { get; set; }

    /// <summary>Base URL of an OpenAI-compatible API (http://localhost:11434/v1), or a full .../chat/completions URL.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Endpoint { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Model { get; set; }

    [Parameter]
    [SecureStringTransformation]
    public SecureString? ApiKey { get; set; }

    [Parameter]
    [ValidateRange(0.0, 2.0)]
    public double? Temperature { get; set; }

    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int? MaxTokens { get; set; }

    /// <summary>Requests in flight at once.</summary>
    [Parameter]
    [ValidateRange(1, 1024)]
    public int ThrottleLimit { get; set; } = 10;

    /// <summary>Seconds to wait for one answer before the row fails with a timeout.</summary>
    [Parameter]
    [ValidateRange(1, 86400)]
    public int TimeoutSec { get; set; } = 600;

    /// <summary>Keep the model's whole answer instead of extracting the code.</summary>
    [Parameter]
    public SwitchParameter Raw { get; set; }

    /// <summary>Allow sending the API key over plain http to a host other than this machine.</summary>
    [Parameter]
    public SwitchParameter AllowUnencryptedAuthentication { get; set; }

    protected override void BeginProcessing()
    {
        LlmEndpoint endpoint;
        try
        {
            var layers = new List<EndpointSettings> { new(Endpoint, Model, SecureStringTransformationAttribute.Reveal(ApiKey), "parameters") };
            layers.AddRange(EndpointSettings.FromEnvironment(Environment.GetEnvironmentVariable));
            endpoint = LlmEndpoint.Resolve(layers, AllowUnencryptedAuthentication);
        }
        catch (EndpointConfigurationException ex)
        {
            ThrowTerminatingError(new ErrorRecord(ex, "InvalidEndpointConfiguration", ErrorCategory.InvalidArgument, Endpoint));
            return;
        }

        PromptTemplate? template = null;
        if (PromptTemplate is not null)
        {
            try
            {
                template = Core.Prompting.PromptTemplate.Parse(PromptTemplate);
            }
            catch (FormatException ex)
            {
                ThrowTerminatingError(new ErrorRecord(ex, "InvalidPromptTemplate", ErrorCategory.InvalidArgument, PromptTemplate));
                return;
            }
        }

        _client = new ChatCompletionClient(endpoint, LlmHttpHandler.Shared, TimeSpan.FromSeconds(TimeoutSec));
        _run = new GenerationRun(new GenerationOptions
        {
            InputKey = InputKey,
            OutputKey = OutputKey,
            Overwrite = Force,
            Template = template,
            SystemPrompt = SystemPrompt,
            Language = Language,
            Parameters = new ChatParameters(Temperature, MaxTokens),
            ThrottleLimit = ThrottleLimit,
            KeepRawAnswer = Raw,
        }, _client);

        _verbose = IsVerbose();
        _action = $"Generate code with model '{endpoint.Model}' at {endpoint.DisplayUri}";
        long? total = ParameterSetName == InstructionSet ? Instruction.Length : null;
        _progress = new RunProgress(this, $"Generating code with {endpoint.Model}", total);
        WriteVerbose($"Sending to {endpoint.DisplayUri} as model '{endpoint.Model}', {ThrottleLimit} requests at once, API key {(endpoint.ApiKey is null ? "none" : "set")}.");
    }

    protected override void ProcessRecord()
    {
        try
        {
            if (ParameterSetName == InstructionSet)
            {
                foreach (var text in Instruction)
                {
                    Submit(new InstructionRow(text ?? string.Empty, InputKey));
                }
            }
            else
            {
                Submit(PipelineRow.From(InputObject, InputKey));
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            // Ctrl+C: StopProcessing cancelled the run; PowerShell ends the pipeline.
        }
    }

    protected override void EndProcessing()
    {
        if (_run is null)
        {
            return;
        }
        try
        {
            Pump(drainAll: true);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            return;
        }
        _progress!.Complete();
        WriteVerbose(RunProgress.Summary(MyInvocation.MyCommand.Name, _run.GetStatistics()));
    }

    protected override void StopProcessing()
    {
        _stopping.Cancel();
        _run?.Cancel();
    }

    public void Dispose()
    {
        _run?.Dispose();
        _client?.Dispose();
        _stopping.Dispose();
    }

    private void Submit(PipelineRow row)
    {
        var run = _run!;
        var prepared = run.Prepare(row);
        if (prepared.IsSendable && !ShouldProcess($"Row {prepared.RowNumber}: {Preview(prepared.Instruction)}", _action))
        {
            return;
        }
        run.Enqueue(prepared, row);
        Pump(drainAll: false);
    }

    /// <summary>
    /// Writes every outcome that is ready, in input order. With <paramref name="drainAll"/> it waits for all
    /// of them; otherwise it waits only while the run is full (backpressure), so memory stays bounded.
    /// </summary>
    private void Pump(bool drainAll)
    {
        var run = _run!;
        while (true)
        {
            if (run.TryTakeNext(out var outcome))
            {
                Emit(outcome);
                continue;
            }
            if (run.PendingCount == 0 || (!drainAll && !run.IsFull))
            {
                break;
            }
            run.WaitForNext(PumpInterval, _stopping.Token);
            _progress!.Update(run.GetStatistics());
        }
        _progress!.Update(run.GetStatistics());
    }

    private void Emit(RowOutcome outcome)
    {
        var row = (PipelineRow)outcome.State!;
        if (outcome.Error is { } error)
        {
            if (error.Kind == RowErrorKind.Cancelled)
            {
                return;
            }
            WriteError(RowErrorRecords.Create(error, row.Source));
            WriteObject(row.Emit(OutputKey, null, succeeded: false));
            return;
        }
        if (outcome.Warning is not null)
        {
            WriteWarning(outcome.Warning);
        }
        if (_verbose)
        {
            string tokens = outcome.Usage is { } usage ? $", {usage.TotalTokens} tokens" : string.Empty;
            WriteVerbose($"Row {outcome.RowNumber}: answered in {outcome.Elapsed.TotalMilliseconds:0} ms{tokens}.");
        }
        WriteObject(row.Emit(OutputKey, outcome.Code, succeeded: true));
    }

    private bool IsVerbose()
    {
        if (MyInvocation.BoundParameters.TryGetValue("Verbose", out var bound))
        {
            return bound is SwitchParameter s ? s.IsPresent : LanguagePrimitives.IsTrue(bound);
        }
        var preference = GetVariableValue("VerbosePreference");
        return preference is ActionPreference p ? p != ActionPreference.SilentlyContinue && p != ActionPreference.Ignore
            : preference is not null && !string.Equals(preference.ToString(), "SilentlyContinue", StringComparison.OrdinalIgnoreCase);
    }

    private static string Preview(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return string.Empty;
        }
        string line = text.ReplaceLineEndings(" ").Trim();
        return line.Length <= 60 ? line : line[..57] + "...";
    }
}
