using CodeGen.Core.Llm;

namespace CodeGen.Core.Tests;

public class EndpointTests
{
    [Theory]
    [InlineData("http://localhost:11434/v1", "http://localhost:11434/v1/chat/completions")]
    [InlineData("http://localhost:11434/v1/", "http://localhost:11434/v1/chat/completions")]
    [InlineData("https://api.openai.com/v1/chat/completions", "https://api.openai.com/v1/chat/completions")]
    [InlineData("http://127.0.0.1:8080", "http://127.0.0.1:8080/chat/completions")]
    [InlineData("https://r.openai.azure.com/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21",
        "https://r.openai.azure.com/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21")]
    [InlineData("https://r.openai.azure.com/openai/v1?x=1", "https://r.openai.azure.com/openai/v1/chat/completions?x=1")]
    public void Base_urls_get_the_chat_completions_path(string endpoint, string expected)
        => Assert.Equal(expected, LlmEndpoint.ToRequestUri(endpoint).ToString());

    [Theory]
    [InlineData("localhost:11434")]
    [InlineData("ftp://example.com/v1")]
    [InlineData("not a url")]
    public void Malformed_endpoints_are_refused(string endpoint)
    {
        var ex = Assert.Throws<EndpointConfigurationException>(() => LlmEndpoint.ToRequestUri(endpoint));
        Assert.Contains(endpoint, ex.Message);
    }

    private static Func<string, string?> Env(params (string Name, string? Value)[] variables)
    {
        var map = variables.ToDictionary(v => v.Name, v => v.Value);
        return name => map.GetValueOrDefault(name);
    }

    [Fact]
    public void The_list_of_environment_variables_is_what_resolution_reads()
    {
        var asked = new List<string>();
        _ = EndpointSettings.FromEnvironment(name =>
        {
            asked.Add(name);
            return null;
        });
        Assert.Equal(EndpointSettings.EnvironmentVariables.Order(StringComparer.Ordinal), asked.Distinct().Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Parameters_beat_CODEGEN_variables_which_beat_OPENAI_and_DF_variables()
    {
        var env = Env(("CODEGEN_ENDPOINT", "http://127.0.0.1:1/v1"), ("CODEGEN_MODEL", "env-model"), ("CODEGEN_API_KEY", "codegen-key-0000000000"),
            ("OPENAI_BASE_URL", "http://127.0.0.1:2/v1"), ("OPENAI_API_KEY", "openai-key-00000000000"), ("DF_API_KEY", "df-key"));

        var fromEnv = LlmEndpoint.Resolve(EndpointSettings.FromEnvironment(env));
        Assert.Equal("http://127.0.0.1:1/v1/chat/completions", fromEnv.RequestUri.ToString());
        Assert.Equal("env-model", fromEnv.Model);
        Assert.Equal("codegen-key-0000000000", fromEnv.ApiKey!.Reveal());

        var withParameters = LlmEndpoint.Resolve([new EndpointSettings("http://127.0.0.1:3/v1", "param-model", "param-key"), .. EndpointSettings.FromEnvironment(env)]);
        Assert.Equal("http://127.0.0.1:3/v1/chat/completions", withParameters.RequestUri.ToString());
        Assert.Equal("param-model", withParameters.Model);
        Assert.Equal("param-key", withParameters.ApiKey!.Reveal());
    }

    [Fact]
    public void OPENAI_variables_then_DF_API_KEY_fill_in_and_the_endpoint_defaults_to_OpenAI()
    {
        var openai = LlmEndpoint.Resolve([new EndpointSettings(Model: "m"), .. EndpointSettings.FromEnvironment(Env(("OPENAI_API_KEY", "sk-openai"), ("DF_API_KEY", "df")))]);
        Assert.Equal("https://api.openai.com/v1/chat/completions", openai.RequestUri.ToString());
        Assert.Equal("sk-openai", openai.ApiKey!.Reveal());

        var dataflow = LlmEndpoint.Resolve([new EndpointSettings(Model: "m"), .. EndpointSettings.FromEnvironment(Env(("DF_API_KEY", "df-key")))]);
        Assert.Equal("df-key", dataflow.ApiKey!.Reveal());

        var baseUrl = LlmEndpoint.Resolve([new EndpointSettings(Model: "m"), .. EndpointSettings.FromEnvironment(Env(("OPENAI_BASE_URL", "http://localhost:8000/v1")))]);
        Assert.Equal("http://localhost:8000/v1/chat/completions", baseUrl.RequestUri.ToString());
        Assert.Null(baseUrl.ApiKey);
    }

    [Theory]
    [InlineData(null, null, "https://api.openai.com/v1/chat/completions")] // OpenAI's own endpoint, by default
    [InlineData("https://api.openai.com/v1", null, "https://api.openai.com/v1/chat/completions")]
    [InlineData(null, "https://gateway.example.com/openai/v1", "https://gateway.example.com/openai/v1/chat/completions")] // paired with OPENAI_BASE_URL
    [InlineData("https://gateway.example.com/v1", "https://gateway.example.com/openai/v1", "https://gateway.example.com/v1/chat/completions")]
    [InlineData("http://localhost:8000/v1", null, "http://localhost:8000/v1/chat/completions")] // this machine
    [InlineData("http://127.0.0.1:11434/v1", "https://gateway.example.com/v1", "http://127.0.0.1:11434/v1/chat/completions")]
    public void OPENAI_API_KEY_goes_to_OpenAI_its_base_url_and_this_machine(string? endpoint, string? baseUrl, string expected)
    {
        var resolved = LlmEndpoint.Resolve([new EndpointSettings(endpoint, "m"), .. EndpointSettings.FromEnvironment(Env(("OPENAI_API_KEY", "sk-openai-0000"), ("OPENAI_BASE_URL", baseUrl)))]);
        Assert.Equal(expected, resolved.RequestUri.ToString());
        Assert.Equal("sk-openai-0000", resolved.ApiKey?.Reveal());
        Assert.Equal("OPENAI_* environment variables", resolved.KeySource);
        Assert.Null(resolved.WithheldKey);
    }

    [Theory]
    [InlineData("https://openrouter.example/api/v1", null)]
    [InlineData("https://api.openai.com.evil.example/v1", null)]
    [InlineData("https://other.example.com/v1", "https://gateway.example.com/v1")]
    [InlineData("https://gateway.example.com:8443/v1", "https://gateway.example.com/v1")] // another port is another server
    public void OPENAI_API_KEY_is_never_sent_to_another_host(string endpoint, string? baseUrl)
    {
        var layers = EndpointSettings.FromEnvironment(Env(("OPENAI_API_KEY", "sk-openai-0000"), ("OPENAI_BASE_URL", baseUrl)));
        var resolved = LlmEndpoint.Resolve([new EndpointSettings(endpoint, "m"), .. layers]);
        Assert.Null(resolved.ApiKey);
        Assert.Equal("none", resolved.KeySource);
        Assert.StartsWith($"OPENAI_API_KEY is not sent to {new Uri(endpoint).Host}", resolved.WithheldKey);
        Assert.Contains("-ApiKey", resolved.WithheldKey);
        Assert.DoesNotContain("sk-openai", resolved.WithheldKey);

        // CODEGEN_API_KEY, a parameter or DataFlow's DF_API_KEY are meant for the endpoint in use, and go there.
        var dataflow = LlmEndpoint.Resolve([new EndpointSettings(endpoint, "m"),
            .. EndpointSettings.FromEnvironment(Env(("OPENAI_API_KEY", "sk-openai-0000"), ("OPENAI_BASE_URL", baseUrl), ("DF_API_KEY", "df-key-0000")))]);
        Assert.Equal("df-key-0000", dataflow.ApiKey?.Reveal());
        Assert.Equal("DF_API_KEY environment variable", dataflow.KeySource);
        Assert.Null(dataflow.WithheldKey);
        var codegen = LlmEndpoint.Resolve(EndpointSettings.FromEnvironment(Env(("CODEGEN_ENDPOINT", endpoint), ("CODEGEN_MODEL", "m"),
            ("CODEGEN_API_KEY", "codegen-key-0000"), ("OPENAI_API_KEY", "sk-openai-0000"))));
        Assert.Equal("codegen-key-0000", codegen.ApiKey?.Reveal());
    }

    [Fact]
    public void Nothing_configured_says_what_is_missing()
    {
        // the fact; the cmdlets add what to set, by the parameters the command has
        var ex = Assert.Throws<EndpointConfigurationException>(() => LlmEndpoint.Resolve(EndpointSettings.FromEnvironment(Env())));
        Assert.Equal(EndpointProblem.NoEndpoint, ex.Problem);
        Assert.Contains("CODEGEN_ENDPOINT", ex.Message);
        var azure = Assert.Throws<EndpointConfigurationException>(() => LlmEndpoint.Resolve([new EndpointSettings(Provider: LlmProvider.AzureOpenAI, Model: "m")]));
        Assert.Equal(EndpointProblem.NoAzureEndpoint, azure.Problem);
    }

    [Fact]
    public void A_missing_model_says_what_to_set()
    {
        var ex = Assert.Throws<EndpointConfigurationException>(() => LlmEndpoint.Resolve([new EndpointSettings("http://localhost:11434/v1")]));
        Assert.Equal(EndpointProblem.NoModel, ex.Problem);
        Assert.Contains("CODEGEN_MODEL", ex.Message);
    }

    [Fact]
    public void A_deployment_without_Azure_says_the_deployment_is_Azures_not_that_a_model_is_missing()
    {
        var ex = Assert.Throws<EndpointConfigurationException>(() => LlmEndpoint.Resolve([new EndpointSettings("http://localhost:11434/v1", Deployment: "gpt-4o-prod")]));
        Assert.Equal(EndpointProblem.DeploymentNotAzure, ex.Problem);
        Assert.Contains("'gpt-4o-prod' is an Azure OpenAI setting", ex.Message);
        Assert.Equal(EndpointProblem.DeploymentNotAzure,
            Assert.Throws<EndpointConfigurationException>(() => LlmEndpoint.ResolveModel([new EndpointSettings("http://localhost:11434/v1", Deployment: "gpt-4o-prod")])).Problem);
    }

    [Theory]
    [InlineData("https://contoso.openai.azure.com")]
    [InlineData("https://contoso.cognitiveservices.azure.com/")]
    public void An_Azure_OpenAI_resource_with_a_deployment_implies_the_provider(string resource)
    {
        var endpoint = LlmEndpoint.Resolve([new EndpointSettings(resource, Deployment: "gpt-4o-prod", ApiKey: "azure-key-0000")]);
        Assert.Equal(LlmProvider.AzureOpenAI, endpoint.Provider);
        Assert.Equal("gpt-4o-prod", endpoint.Model);
        Assert.Contains("/openai/deployments/gpt-4o-prod/chat/completions", endpoint.RequestUri.AbsoluteUri);
        // a name that only ends like one is not Azure's
        Assert.Equal(LlmProvider.OpenAI, LlmEndpoint.Resolve([new EndpointSettings("https://evil-openai.azure.com.example/v1", Deployment: "d", Model: "m")]).Provider);
    }

    [Fact]
    public void Azures_v1_API_with_a_model_stays_an_OpenAI_compatible_server_with_its_keys()
    {
        // as before: DataFlow's DF_API_KEY (and CODEGEN_API_KEY) go to it as a Bearer key
        var endpoint = LlmEndpoint.Resolve(EndpointSettings.FromEnvironment(Env(("CODEGEN_ENDPOINT", "https://res.openai.azure.com/openai/v1"), ("CODEGEN_MODEL", "gpt-4o"),
            ("DF_API_KEY", "df-key-0000"))));
        Assert.Equal(LlmProvider.OpenAI, endpoint.Provider);
        Assert.Equal("df-key-0000", endpoint.ApiKey?.Reveal());
    }

    [Fact]
    public void A_key_is_not_sent_over_plain_http_to_another_host_unless_allowed()
    {
        var ex = Assert.Throws<EndpointConfigurationException>(() => LlmEndpoint.Resolve([new EndpointSettings("http://gpu-box.lan:8000/v1", "m", "secret-key-123456")]));
        Assert.Equal(EndpointProblem.Unencrypted, ex.Problem);
        Assert.Contains("unencrypted http to gpu-box.lan", ex.Message);
        Assert.DoesNotContain("secret-key-123456", ex.Message);

        // allowed, loopback, or no key to send: the endpoint resolves with its key (or none) and plain-http address
        foreach (var (url, key, allow) in new[] { ("http://gpu-box.lan:8000/v1", "k", true), ("http://127.0.0.1:8000/v1", "k", false), ("http://[::1]:8000/v1", "k", false), ("http://gpu-box.lan:8000/v1", null, false) })
        {
            var endpoint = LlmEndpoint.Resolve([new EndpointSettings(url, "m", key)], allowUnencryptedAuthentication: allow);
            Assert.Equal(url + "/chat/completions", endpoint.RequestUri.ToString());
            Assert.Equal(key is null ? AuthKind.None : AuthKind.ApiKey, endpoint.Auth);
            Assert.Equal(key, endpoint.ApiKey?.Reveal());
        }
    }

    [Fact]
    public void The_key_never_prints_itself()
    {
        var endpoint = LlmEndpoint.Resolve([new EndpointSettings("https://user:pw@api.example.com/v1?api-version=1", "m", "sk-abcdefghijklmnop1234")]);
        Assert.DoesNotContain("sk-abcdefghijklmnop1234", endpoint.ToString());
        Assert.Contains("****1234", endpoint.ToString());
        Assert.Equal("****1234", endpoint.ApiKey!.ToString());
        Assert.Equal("https://api.example.com/v1/chat/completions", endpoint.DisplayUri);
        Assert.Equal("error: ****1234 is wrong", endpoint.ApiKey.Redact("error: sk-abcdefghijklmnop1234 is wrong"));
    }
}
