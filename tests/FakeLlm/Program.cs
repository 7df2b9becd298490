using System.Text.Json;
using FakeLlm;

// dotnet FakeLlm.dll [--config JSON] [--port N] [--latency-ms N] [--jitter-ms N] [--style S] [--status N] [--seed N] [--record] [--stop-on-stdin-eof]
// --config takes any FakeLlmOptions as JSON (what POST /_fake/config takes, e.g. {"RateLimitRequestsPerMinute":600});
// it replaces the options given before it, so put it first.
// Prints "FakeLlm listening on <base url>" and serves until stopped (Ctrl+C, SIGTERM), or until stdin closes
// with --stop-on-stdin-eof (what build.ps1 and the Pester tests use, so no orphaned server keeps running).
var options = new FakeLlmOptions();
int port = 0;
bool stopOnStdinEof = false;
for (int i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
    switch (args[i])
    {
        case "--config": options = JsonSerializer.Deserialize<FakeLlmOptions>(Next(), new JsonSerializerOptions(JsonSerializerDefaults.Web)) ?? new FakeLlmOptions(); break;
        case "--port": port = int.Parse(Next()); break;
        case "--latency-ms": options = options with { LatencyMs = int.Parse(Next()) }; break;
        case "--jitter-ms": options = options with { JitterMs = int.Parse(Next()) }; break;
        case "--style": options = options with { Style = Next() }; break;
        case "--status": options = options with { Status = int.Parse(Next()) }; break;
        case "--seed": options = options with { Seed = int.Parse(Next()) }; break;
        case "--record": options = options with { RecordRequests = true }; break;
        case "--stop-on-stdin-eof": stopOnStdinEof = true; break;
        default:
            Console.Error.WriteLine($"unknown argument {args[i]}");
            return 2;
    }
}

await using var server = await FakeLlmServer.StartAsync(options, port);
Console.WriteLine($"FakeLlm listening on {server.BaseUrl}");
Console.Out.Flush();

var stop = new TaskCompletionSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.TrySetResult();
};
AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.TrySetResult();
if (stopOnStdinEof)
{
    _ = Task.Run(() =>
    {
        // A parent that goes away closes our stdin: stop then, so no orphaned server keeps the port.
        while (Console.In.ReadLine() is not null)
        {
        }
        stop.TrySetResult();
    });
}
await stop.Task;
return 0;
