using System.Management.Automation;
using System.Security;
using CodeGen.Commands.Endpoints;
using CodeGen.Commands.Support;
using CodeGen.Core.Llm;

namespace CodeGen.Commands;

/// <summary>
/// Set-CodeGenEndpoint: stores session defaults (endpoint, model, key, provider, throttle, retries...) that every
/// CodeGen cmdlet uses when its own parameters leave them unset. Only the parameters given are changed.
/// </summary>
[Cmdlet(VerbsCommon.Set, "CodeGenEndpoint", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(EndpointInfo))]
public sealed class SetCodeGenEndpointCommand : ResilienceCommandBase, IDynamicParameters
{
    /// <summary>-ThrottleLimit, and the response cache's folder and mode (not -NoCache: a session keeps what to use).</summary>
    private readonly ParameterGroups _groups = new ParameterGroups()
        .Offer<ThrottleParameters>()
        .Offer<CacheParameters>(only: [nameof(CacheParameters.CachePath), nameof(CacheParameters.CacheMode)]);

    /// <summary>Fields merged into every request body (a command's -AdditionalBody goes on top, field by field). $null or @{} forgets them.</summary>
    [Parameter]
    [AllowNull]
    public System.Collections.IDictionary? AdditionalBody { get; set; }

    /// <summary>
    /// The session's prices in USD per million tokens (what a command's -Price takes), for the model set with them (-Model,
    /// else the session's model then; none: any model). $null forgets them.
    /// </summary>
    /// <remarks>Declared here too, with other validation: $null forgets the session's (a command's -Price refuses $null); <see cref="Prices"/> reads both.</remarks>
    [Parameter]
    [AllowNull]
    public System.Collections.IDictionary? Price { get; set; }

    /// <summary>The session's price file (LiteLLM's format), where commands look their model up. $null or '' forgets it.</summary>
    [Parameter]
    [AllowNull]
    [AllowEmptyString]
    public string? PriceFile { get; set; }

    /// <summary>Write the resulting settings (key masked).</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    public object GetDynamicParameters() => _groups.Parameters;

    protected override void EndProcessing()
    {
        var (throttle, cache) = (_groups.Get<ThrottleParameters>(), _groups.Get<CacheParameters>());
        if (Endpoint is not null)
        {
            Engine(() => LlmEndpoint.ToRequestUri(Endpoint), Endpoint);
        }
        if (Api is not null && Provider is not null)
        {
            // a pair no provider serves is refused now, not at the first request
            Engine(() => LlmEndpoint.ResolveModel([new EndpointSettings(Model: "any", Provider: EndpointSettings.ParseProvider(Provider), Api: EndpointSettings.ParseApi(Api))]), Api);
        }
        var bound = MyInvocation.BoundParameters;
        if ((bound.ContainsKey(nameof(ApiKey)) ? 1 : 0) + (bound.ContainsKey(nameof(Token)) ? 1 : 0) + (EntraId.IsPresent ? 1 : 0) > 1)
        {
            ThrowTerminatingError(ErrorRecords.ForUsage("ConflictingCredentials", "-ApiKey, -Token and -EntraId are three ways to sign in: pass one.",
                "Keep one of -ApiKey, -Token and -EntraId."));
        }
        AdditionalBody? body = bound.ContainsKey(nameof(AdditionalBody)) ? RequestParameters.AdditionalBodyOrThrow(this, AdditionalBody) : null;
        var price = Price is null ? null : Prices.FromTableOrThrow(this, Price) with { Source = "Set-CodeGenEndpoint -Price" };
        string? priceFile = string.IsNullOrEmpty(PriceFile) ? null : GetUnresolvedProviderPathFromPSPath(PriceFile);
        if (priceFile is not null)
        {
            // the model may not be known yet: the file is looked into when a command knows its model
            Engine(() => Core.Costing.PriceFile.Check(priceFile), PriceFile);
        }
        if (!ShouldProcess("CodeGen session defaults", "Set " + string.Join(", ", bound.Keys.Where(k => k != nameof(PassThru)))))
        {
            return;
        }
        var settings = SessionDefaults.Current;
        if (bound.ContainsKey(nameof(Endpoint))) settings.Endpoint = Endpoint;
        if (bound.ContainsKey(nameof(Model))) settings.Model = Model;
        // one way to sign in at a time: setting one forgets the others
        if (bound.ContainsKey(nameof(ApiKey)))
        {
            (settings.ApiKey, settings.Token, settings.EntraId) = (ApiKey, null, null);
        }
        if (bound.ContainsKey(nameof(Token)))
        {
            (settings.ApiKey, settings.Token, settings.EntraId) = (null, Token, null);
        }
        if (bound.ContainsKey(nameof(EntraId)))
        {
            settings.EntraId = EntraId.IsPresent ? true : null;
            if (EntraId.IsPresent)
            {
                (settings.ApiKey, settings.Token) = (null, null);
            }
        }
        if (bound.ContainsKey(nameof(AdditionalBody))) settings.AdditionalBody = body is { Count: > 0 } ? body : null;
        if (bound.ContainsKey(nameof(Provider))) settings.Provider = EndpointSettings.ParseProvider(Provider);
        if (bound.ContainsKey(nameof(Api))) settings.Api = EndpointSettings.ParseApi(Api);
        if (bound.ContainsKey(nameof(Deployment))) settings.Deployment = Deployment;
        if (bound.ContainsKey(nameof(ApiVersion))) settings.ApiVersion = ApiVersion;
        if (bound.ContainsKey(nameof(throttle.ThrottleLimit))) settings.ThrottleLimit = throttle.ThrottleLimit;
        if (bound.ContainsKey(nameof(MaxRetries))) settings.MaxRetries = MaxRetries;
        if (bound.ContainsKey(nameof(TimeoutSec))) settings.TimeoutSec = TimeoutSec;
        if (bound.ContainsKey(nameof(RequestsPerMinute))) settings.RequestsPerMinute = RequestsPerMinute;
        if (bound.ContainsKey(nameof(TokensPerMinute))) settings.TokensPerMinute = TokensPerMinute;
        if (bound.ContainsKey(nameof(Proxy))) settings.Proxy = Proxy;
        if (bound.ContainsKey(nameof(cache.CachePath))) settings.CachePath = GetUnresolvedProviderPathFromPSPath(cache.CachePath);
        if (bound.ContainsKey(nameof(cache.CacheMode))) settings.CacheMode = cache.Mode;
        if (bound.ContainsKey(nameof(Price)))
        {
            // for the model being set, or the session's: a price for another model must not apply to this one
            (settings.Price, settings.PriceModel) = (price, price is null ? null : settings.Model);
        }
        if (bound.ContainsKey(nameof(PriceFile))) settings.PriceFile = priceFile;
        if (PassThru)
        {
            // what Get-CodeGenEndpoint shows: the settings a command would use, and where each comes from
            int limit = settings.ThrottleLimit ?? ThrottleParameters.DefaultThrottleLimit;
            WriteObject(EndpointInfo.Effective(() => LlmCommandBase.ResolveEndpoint(null, allowUnencrypted: false), LlmCommandBase.SessionResilience(limit), limit));
        }
    }
}

/// <summary>Clear-CodeGenEndpoint: forgets the session defaults that Set-CodeGenEndpoint stored.</summary>
[Cmdlet(VerbsCommon.Clear, "CodeGenEndpoint", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(void))]
public sealed class ClearCodeGenEndpointCommand : PSCmdlet
{
    protected override void EndProcessing()
    {
        if (ShouldProcess("CodeGen session defaults", "Clear"))
        {
            SessionDefaults.Clear();
        }
    }
}

/// <summary>
/// Get-CodeGenEndpoint: the settings a CodeGen command would use now, and where each comes from (parameters,
/// session defaults, environment variables), with the key masked. Takes the same parameters as
/// Invoke-CodeInstructionToCode, to preview what a call with them would use.
/// </summary>
[Cmdlet(VerbsCommon.Get, "CodeGenEndpoint")]
[OutputType(typeof(EndpointInfo))]
public sealed class GetCodeGenEndpointCommand : LlmCommandBase, IDynamicParameters
{
    private readonly ParameterGroups _groups = new ParameterGroups().Offer<ThrottleParameters>();

    public object GetDynamicParameters() => _groups.Parameters;

    protected override void EndProcessing()
    {
        int throttle = _groups.Get<ThrottleParameters>().Resolve(this);
        WriteObject(EndpointInfo.Effective(() => ResolveEndpoint(), ResolveResilience(throttle), throttle));
    }
}
