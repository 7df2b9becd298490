using System.Text.Json;
using CodeGen.Core.Llm;
using CodeGen.Core.Rows;
using CodeGen.Core.Running;
using FakeLlm;

namespace CodeGen.Core.Tests;

/// <summary>A row backed by a dictionary, with case-insensitive names like PowerShell's.</summary>
internal sealed class TestRow : IRowFields
{
    private readonly Dictionary<string, string?> _fields;

    public TestRow(params (string Name, string? Value)[] fields)
        => _fields = fields.ToDictionary(f => f.Name, f => f.Value, StringComparer.OrdinalIgnoreCase);

    public static TestRow Instruction(string text) => new(("instruction", text));

    /// <summary>A row from a JSON object: strings as they are, other values as their JSON text.</summary>
    public static TestRow FromJson(JsonElement element) => new(element.EnumerateObject()
        .Select(p => (p.Name, p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString() : p.Value.GetRawText())).ToArray());

    public bool HasField(string name) => _fields.ContainsKey(name);

    public bool TryGetField(string name, out string? value) => _fields.TryGetValue(name, out value);
}

/// <summary>One fake server per test class; each test sets the options it needs.</summary>
public sealed class FakeServerFixture : IAsyncLifetime
{
    public FakeLlmServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await FakeLlmServer.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();

    /// <summary>Sets the server's behaviour and zeroes its counters.</summary>
    public FakeLlmServer Use(FakeLlmOptions options)
    {
        Server.Options = options;
        Server.Stats.Reset();
        return Server;
    }
}

internal static class Runs
{
    /// <summary>
    /// A client for the fake server. No retries unless asked, and short backoff delays when there are. Its waits and
    /// timeouts run on <paramref name="clock"/> (a test's fake clock), or the system's.
    /// </summary>
    public static LlmClient Client(Uri baseUrl, string? key = null, TimeSpan? timeout = null, string model = "fake-model",
        int retries = 0, int concurrency = 10, ResilienceSettings? settings = null, TimeProvider? clock = null,
        LlmProvider? provider = null, LlmApi? api = null, string? apiVersion = null)
    {
        var endpoint = LlmEndpoint.Resolve([new EndpointSettings(baseUrl.ToString(), model, key, Provider: provider, Api: api, ApiVersion: apiVersion)]);
        return new LlmClient(endpoint, settings ?? new ResilienceSettings
        {
            MaxRetries = retries,
            MaxConcurrency = concurrency,
            AttemptTimeout = timeout ?? TimeSpan.FromSeconds(30),
            BaseDelay = TimeSpan.FromMilliseconds(10),
        }, timeProvider: clock);
    }

    /// <summary>
    /// Drives a run the way the cmdlet does: enqueue, then <see cref="GenerationRun.Drain"/> (which waits while the
    /// run is full), then drain what is left.
    /// </summary>
    public static List<RowOutcome> Drive(GenerationRun run, IEnumerable<IRowFields> rows, Action<RowOutcome>? onOutcome = null, bool keepOutcomes = true)
    {
        var outcomes = new List<RowOutcome>();
        void Emit(RowOutcome outcome)
        {
            if (keepOutcomes)
            {
                outcomes.Add(outcome);
            }
            onOutcome?.Invoke(outcome);
        }
        foreach (var row in rows)
        {
            run.Enqueue(run.Prepare(row), row);
            run.Drain(false, Emit, () => { }, TimeSpan.FromSeconds(30), CancellationToken.None);
        }
        run.Drain(true, Emit, () => { }, TimeSpan.FromSeconds(30), CancellationToken.None);
        return outcomes;
    }

    public static string DataFile(string name) => Path.Combine(AppContext.BaseDirectory, "data", name);

    public static IEnumerable<JsonElement> ReadJsonLines(string name)
        => File.ReadLines(DataFile(name)).Where(l => l.Trim().Length > 0).Select(l => JsonDocument.Parse(l).RootElement.Clone());
}

/// <summary>Tests that measure the process's managed heap, and tests that fill it: never at the same time.</summary>
[CollectionDefinition(Collection)]
public sealed class ManagedHeap : ICollectionFixture<TokenizersLoaded>
{
    public const string Collection = "Managed heap";
}

/// <summary>
/// The tokenizers (the fake server's and CodeGen's own) load once per process and stay: loaded before any heap is
/// measured, so a test alongside that uses one first does not count in the measure.
/// </summary>
public sealed class TokenizersLoaded
{
    public TokenizersLoaded()
    {
        FakeTokens.Preload();
        Costing.TokenCounter.For("gpt-4o", LlmProvider.OpenAI).CountText("x");
        Costing.TokenCounter.For("gpt-4", LlmProvider.OpenAI).CountText("x");
    }
}
