using System.Collections;
using System.Management.Automation;
using CodeGen.Commands.Support;
using CodeGen.Core.Costing;
using CodeGen.Core.Llm;

namespace CodeGen.Commands.Endpoints;

/// <summary>
/// The commands that send (or would send) the rows' requests: Invoke-CodeInstructionToCode and Measure-CodeGenCost.
/// They share the rows they take from the pipeline or as instructions, and the prices of the model's tokens, declared
/// here once.
/// </summary>
public abstract class GenerationCommandBase : LlmCommandBase
{
    protected const string InputObjectSet = "InputObject";
    protected const string InstructionSet = "Instruction";

    /// <summary>A row: an object with the instruction column, a hashtable, or a string that is the instruction itself.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = InputObjectSet)]
    public PSObject InputObject { get; set; } = null!;

    /// <summary>Instructions given directly; each becomes a row with the input and output columns.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = InstructionSet)]
    [ValidateNotNull]
    public string[] Instruction { get; set; } = [];

    /// <summary>The model's prices in USD per million tokens: @{ Input = 0.15; Output = 0.60; CachedInput = 0.075 } (also Reasoning, BatchInput, BatchOutput).</summary>
    [Parameter]
    [ValidateNotNull]
    public IDictionary? Price { get; set; }

    /// <summary>A price file in the format of LiteLLM's model_prices_and_context_window.json, where the model is looked up.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? PriceFile { get; set; }

    /// <summary>
    /// The price of the endpoint's model (-Price, -PriceFile, the session's), or null when none is known; stops the command
    /// when one given cannot be used. With <paramref name="sessionFileIsOptional"/>, a session price file without the model
    /// (or that cannot be read) is a warning and no price: a run does not stop over what it would cost.
    /// </summary>
    protected ModelPrice? ResolvePrice(LlmEndpoint endpoint, bool sessionFileIsOptional = false)
    {
        if (Price is not null && PriceFile is not null)
        {
            ThrowTerminatingError(ErrorRecords.ForUsage("PriceAndPriceFile", "-Price gives the prices and -PriceFile names a file of them: pass one of them.",
                "Keep -Price, or -PriceFile."));
        }
        var warnings = new List<string>();
        var price = Engine(() => Prices.Resolve(this, Price, PriceFile, endpoint, sessionFileIsOptional ? warnings.Add : null), PriceFile);
        warnings.ForEach(WriteWarning);
        return price;
    }
}
