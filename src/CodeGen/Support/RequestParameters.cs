using System.Collections;
using System.Management.Automation;
using CodeGen.Commands.Endpoints;
using CodeGen.Core.Llm;

namespace CodeGen.Commands.Support;

/// <summary>The request parameters of the commands that write request bodies, checked once before any request.</summary>
internal static class RequestParameters
{
    /// <summary>
    /// The parameters every request of the command carries: -Temperature, -MaxTokens, -ReasoningEffort, and the
    /// session's additional body with -AdditionalBody on top. Stops the command when the body cannot be sent (what
    /// cannot be sent on the API in use is checked with the endpoint: <see cref="WireApi.Check"/>).
    /// </summary>
    public static ChatParameters ResolveOrThrow(PSCmdlet cmdlet, double? temperature, int? maxTokens, string? reasoningEffort, IDictionary? additionalBody)
    {
        var body = AdditionalBodyConversion.Merge(SessionDefaults.Current.AdditionalBody, AdditionalBodyOrThrow(cmdlet, additionalBody));
        return new ChatParameters(temperature, maxTokens, reasoningEffort, body is { Count: > 0 } ? body : null);
    }

    /// <summary>-AdditionalBody as request fields, or the command stops (InvalidAdditionalBody) saying what it may hold.</summary>
    public static AdditionalBody? AdditionalBodyOrThrow(PSCmdlet cmdlet, IDictionary? additionalBody)
        => ErrorRecords.ParseOrStop(cmdlet, () => AdditionalBodyConversion.From(additionalBody), "InvalidAdditionalBody",
            "Give -AdditionalBody a hashtable of strings, numbers, booleans, $null, hashtables and arrays; secrets go in -ApiKey, -Token or -Header.", additionalBody);
}
