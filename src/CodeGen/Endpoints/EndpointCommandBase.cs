using System.Management.Automation;
using System.Security;
using CodeGen.Commands.Support;
using CodeGen.Core.Llm;

namespace CodeGen.Commands.Endpoints;

/// <summary>
/// The parameters that say whom requests are written for: the endpoint, the model, the provider, the API and, for
/// Azure OpenAI and Anthropic, the deployment and the API version. Declared once, here, for every command that writes
/// or sends requests (Export-CodeGenBatch writes them; the commands below <see cref="EndpointCommandBase"/> send them).
/// </summary>
public abstract class ModelCommandBase : CancellableCmdlet
{
    /// <summary>Base URL of the API (http://localhost:11434/v1), a full request URL (…/chat/completions, …/responses, …/messages), or an Azure resource URL.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Endpoint { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ModelCompleter))]
    public string? Model { get; set; }

    /// <summary>OpenAI (any OpenAI-compatible server, Bearer key), AzureOpenAI (api-key header, deployments) or Anthropic (its Messages API).</summary>
    [Parameter]
    [ValidateSet(nameof(LlmProvider.OpenAI), nameof(LlmProvider.AzureOpenAI), nameof(LlmProvider.Anthropic))]
    public string? Provider { get; set; }

    /// <summary>ChatCompletions or Responses (OpenAI, Azure OpenAI), Messages (Anthropic). Default: what the URL names, else the provider's first.</summary>
    [Parameter]
    [ValidateSet(nameof(LlmApi.ChatCompletions), nameof(LlmApi.Responses), nameof(LlmApi.Messages))]
    public string? Api { get; set; }

    /// <summary>Azure OpenAI deployment name; without it the Azure /openai/v1 API is used with -Model.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Deployment { get; set; }

    /// <summary>Azure OpenAI's api-version for deployment URLs (default 2024-10-21), or Anthropic's anthropic-version (default 2026-10-21).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ApiVersion { get; set; }

    /// <summary>These parameters as the first layer of endpoint settings (see <see cref="LlmCommandBase.Layers"/>), without credentials.</summary>
    private protected EndpointSettings ModelLayer() => new(Endpoint, Model, null, "parameters", EndpointSettings.ParseProvider(Provider), Deployment, ApiVersion,
        Api: EndpointSettings.ParseApi(Api));
}

/// <summary>
/// <see cref="ModelCommandBase"/> and the ways to sign in (-ApiKey, -Token, -EntraId), declared once for every command
/// that sends requests or keeps them for the session (Set-CodeGenEndpoint).
/// </summary>
public abstract class EndpointCommandBase : ModelCommandBase
{
    /// <summary>The API key, as a SecureString or a plain string.</summary>
    [Parameter]
    [SecureStringTransformation]
    public SecureString? ApiKey { get; set; }

    /// <summary>A bearer token you already have (Authorization: Bearer), for any provider; as a SecureString or a plain string.</summary>
    [Parameter]
    [SecureStringTransformation]
    public SecureString? Token { get; set; }

    /// <summary>Sign in to Azure OpenAI with Microsoft Entra ID (DefaultAzureCredential) instead of a key.</summary>
    [Parameter]
    public SwitchParameter EntraId { get; set; }

    /// <summary>The parameters as the first layer of endpoint settings, with the credentials (revealed for the request headers only).</summary>
    private protected EndpointSettings EndpointLayer() => ModelLayer() with
    {
        ApiKey = SecureStringTransformationAttribute.Reveal(ApiKey),
        Token = SecureStringTransformationAttribute.Reveal(Token),
        EntraId = EntraId.IsPresent ? true : null,
    };
}
