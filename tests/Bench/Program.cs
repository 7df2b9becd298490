using System.Diagnostics;
using System.Net;
using System.Text.Json;
using CodeGen.Core.Llm;
using CodeGen.Core.Prompting;
using CodeGen.Core.Running;
using CodeGen.Core.Storage;

// dotnet CodeGen.Bench.dll gen  --rows N --out file.(csv|jsonl)
// dotnet CodeGen.Bench.dll read --path file.(csv|jsonl)       (the readers alone, for profiling)
// dotnet CodeGen.Bench.dll bare --url http://127.0.0.1:port/v1 --rows N --concurrency C [--repeat R]
// dotnet CodeGen.Bench.dll engine --url URL --in rows.csv --out out.csv --concurrency C --journal on|off [--repeat R]
//   (file mode's engine, FileRun, without PowerShell: the answer journal on or off, which no command offers)
// Each command prints one JSON object on stdout.
var options = new Dictionary<string, string>();
for (int i = 1; i + 1 < args.Length; i += 2)
{
    options[args[i].TrimStart('-')] = args[i + 1];
}
int rows = int.Parse(options.GetValueOrDefault("rows", "1000"));

switch (args.FirstOrDefault())
{
    case "gen":
        Generate(options["out"], rows);
        Console.WriteLine(JsonSerializer.Serialize(new { rows, path = options["out"] }));
        return 0;
    case "read":
        var watch = Stopwatch.StartNew();
        long count = 0;
        using (var reader = RowFiles.OpenReader(options["path"], DataFormats.FromExtension(options["path"]) ?? DataFormat.JsonLines))
        {
            while (reader.Read(out _))
            {
                count++;
            }
        }
        Console.WriteLine(JsonSerializer.Serialize(new { rows = count, seconds = watch.Elapsed.TotalSeconds, peakRssKb = PeakRssKb() }));
        return 0;
    case "bare":
        long allocatedBefore = GC.GetTotalAllocatedBytes(true);
        int repeat = int.Parse(options.GetValueOrDefault("repeat", "1"));
        var runs = new List<(double Seconds, int Answered)>();
        using (var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue, UseCookies = false }) { Timeout = Timeout.InfiniteTimeSpan })
        {
            for (int run = 0; run < repeat; run++)
            {
                runs.Add(await Bare(http, options["url"], rows, int.Parse(options.GetValueOrDefault("concurrency", "10"))));
            }
        }
        long bytesPerRow = (GC.GetTotalAllocatedBytes(true) - allocatedBefore) / Math.Max(1, rows * repeat);
        Console.WriteLine(JsonSerializer.Serialize(new { rows = runs[0].Answered, seconds = runs[0].Seconds, warmSeconds = runs[^1].Seconds, peakRssKb = PeakRssKb(), bytesPerRow }));
        return runs.All(r => r.Answered == rows) ? 0 : 1;
    case "engine":
    {
        int times = int.Parse(options.GetValueOrDefault("repeat", "1"));
        bool journal = options.GetValueOrDefault("journal", "on") == "on";
        var seconds = new List<double>();
        long generated = 0;
        var endpoint = LlmEndpoint.Resolve([new EndpointSettings(options["url"], "bench")]);
        for (int run = 0; run < times; run++)
        {
            File.Delete(options["out"]);
            var clock = Stopwatch.StartNew();
            using var client = new LlmClient(endpoint, new ResilienceSettings { MaxConcurrency = int.Parse(options.GetValueOrDefault("concurrency", "10")) });
            using var generation = new GenerationRun(new GenerationOptions(), client);
            var summary = new FileRun(new FileRunOptions { InputPath = options["in"], OutputPath = options["out"], Journal = journal })
                .Execute(generation, new SilentListener(), CancellationToken.None);
            seconds.Add(clock.Elapsed.TotalSeconds);
            generated = summary.Generated;
        }
        double cpuSeconds = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
        Console.WriteLine(JsonSerializer.Serialize(new { rows = generated, seconds = seconds[0], warmSeconds = seconds[^1], peakRssKb = PeakRssKb(), cpuSeconds }));
        return 0;
    }
    default:
        Console.Error.WriteLine("usage: gen --rows N --out FILE | bare --url URL --rows N --concurrency C | engine --url URL --in FILE --out FILE --concurrency C --journal on|off");
        return 2;
}

// The rows every contender processes: an id, a category and a realistic one-line instruction.
static string Instruction(int i) => $"Write a function named solve_{i} that returns the sum of the even numbers in a list of integers, and document it.";

static void Generate(string path, int count)
{
    var format = DataFormats.FromExtension(path) ?? DataFormat.JsonLines;
    string[] columns = ["id", "category", "instruction"];
    using var writer = RowFiles.CreateWriter(path, format, columns);
    for (int i = 1; i <= count; i++)
    {
        var row = new DataRow(columns, [i.ToString(), (i % 7).ToString(), Instruction(i)], 3);
        writer.Write(row);
    }
}

// The limit: HttpClient, C requests in flight, the default prompt's body, the answer read and parsed.
static async Task<(double Seconds, int Answered)> Bare(HttpClient http, string url, int count, int concurrency)
{
    var endpoint = LlmEndpoint.Resolve([new EndpointSettings(url, "bench")]);
    var prompts = new PromptBuilder("instruction", "generated_code", false, null, null, null);
    int next = 0, answered = 0;
    var clock = Stopwatch.StartNew();
    var workers = Enumerable.Range(0, concurrency).Select(async worker =>
    {
        int i;
        while ((i = Interlocked.Increment(ref next)) <= count)
        {
            byte[] body = WireApi.ChatCompletions.ToUtf8(endpoint.Model, [ChatMessage.User(prompts.DefaultPrompt(Instruction(i)))], new ChatParameters(), WireRules.AsGiven);
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new("application/json");
            using var response = await http.PostAsync(endpoint.RequestUri, content);
            byte[] answer = await response.Content.ReadAsByteArrayAsync();
            if (response.StatusCode == HttpStatusCode.OK && ChatAnswer.Parse(answer, out _) is not null)
            {
                Interlocked.Increment(ref answered);
            }
        }
    }).ToArray();
    await Task.WhenAll(workers);
    return (clock.Elapsed.TotalSeconds, answered);
}

static long PeakRssKb()
{
    foreach (var line in File.ReadLines("/proc/self/status"))
    {
        if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
        {
            return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
        }
    }
    return 0;
}

/// <summary>A file run's listener that hears nothing: the engine contender measures the run, not a host.</summary>
sealed class SilentListener : IFileRunListener
{
    public void OnRow(RowOutcome outcome, DataRow row) { }
    public void OnProgress(RunStatistics statistics, double fractionRead) { }
    public void OnNotice(string message) { }
    public void OnWarning(string message) { }
}
