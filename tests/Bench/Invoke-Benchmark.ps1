# Runs CodeGen's benchmarks side by side against the fake server and writes docs/benchmarks.md.
# Called by ./build.ps1 -Task bench after a Release build. Every contender runs in its own process, on the
# same generated data, in the same run; the fast ones run twice, alternating, and keep their best figure.
param(
    [Parameter(Mandatory)] [string] $RepoRoot,
    # Smaller workloads, for a quick look while profiling (the table says so).
    [switch] $Quick
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$work = Join-Path $RepoRoot 'out/bench'
New-Item -ItemType Directory -Force -Path $work | Out-Null
$manifest = Join-Path $RepoRoot 'CodeGen.psd1'
$benchTool = Join-Path $RepoRoot 'out/artifacts/bin/CodeGen.Bench/release/CodeGen.Bench.dll'
$runner = Join-Path $PSScriptRoot 'Run-Contender.ps1'
$pwsh = Join-Path $PSHOME 'pwsh.dll'
Import-Module (Join-Path $RepoRoot 'tests/FakeLlm/FakeLlm.psm1') -Force

$scale = if ($Quick) { 10 } else { 1 }
$overheadRows = 20000 / $scale
$latencyRows = 5000 / $scale
$memoryRows = @(10000, 100000, 1000000) | ForEach-Object { [int]($_ / $scale) }
# rates need runs long enough to settle: -Quick divides these by 3 only
$rateRows = if ($Quick) { 200 } else { 600 }
$blipRows = if ($Quick) { 700 } else { 2000 }
$storageRows = 1000000 / $scale

function Read-Json([string[]] $Lines, [string] $What) {
    $json = $Lines | Where-Object { $_ -match '^\{.*\}$' } | Select-Object -Last 1
    if (-not $json) { throw "$What printed no result: $($Lines -join "`n")" }
    $json | ConvertFrom-Json
}

function New-Data([int] $Rows, [string] $Extension) {
    $path = Join-Path $work "rows-$Rows$Extension"
    if (-not (Test-Path -LiteralPath $path)) {
        $null = Read-Json (& dotnet $benchTool gen --rows $Rows --out $path) 'data generation'
    }
    $path
}

# Runs one contender in its own process; with -Repeat 2 it runs twice in that process: seconds is the first
# (cold: JIT, new connections) run, warmSeconds the second (as in a session that already ran one).
function Invoke-Contender([string] $Contender, [string] $InputPath, [int] $Concurrency, [string] $Url, [int] $Repeat = 1, [int] $RequestsPerMinute = 0) {
    $output = Join-Path $work "out-$Contender.csv"
    if ($Contender -eq 'bare') {
        $rows = [int](([IO.Path]::GetFileNameWithoutExtension($InputPath)) -replace '\D', '')   # rows-<N>.csv
        $lines = & dotnet $benchTool bare --url $Url --rows $rows --concurrency $Concurrency --repeat $Repeat
    }
    elseif ($Contender -like 'engine-journal-*') {
        # file mode's engine without PowerShell, the answer journal on or off (no command turns it off)
        $lines = & dotnet $benchTool engine --url $Url --in $InputPath --out $output --concurrency $Concurrency --repeat $Repeat --journal ($Contender -replace '^engine-journal-', '')
    }
    else {
        $lines = & dotnet $pwsh -NoProfile -NonInteractive -File $runner -Contender $Contender -Manifest $manifest `
            -InputPath $InputPath -OutputPath $output -Url $Url -Concurrency $Concurrency -Repeat $Repeat -RequestsPerMinute $RequestsPerMinute 2>&1 | ForEach-Object { "$_" }
    }
    $result = Read-Json $lines $Contender
    $warm = if ($Repeat -gt 1) { " (warm {0:N2} s)" -f $result.warmSeconds } else { '' }
    Write-Host ("  {0,-22} {1,9:N0} rows {2,8:N2} s {3,10:N0} rows/s {4,6:N0} MB peak{5}" -f $Contender, $result.rows, $result.seconds,
        ($result.rows / $result.seconds), ($result.peakRssKb / 1024), $warm)
    $result | Add-Member -NotePropertyName contender -NotePropertyValue $Contender -PassThru
}

function Get-Best($Results, [string] $Contender) {
    $Results | Where-Object contender -EQ $Contender | Sort-Object seconds | Select-Object -First 1
}

# The run whose second (warm) pass was fastest.
function Get-BestWarm($Results, [string] $Contender) {
    $Results | Where-Object contender -EQ $Contender | Sort-Object warmSeconds | Select-Object -First 1
}

# One line of a table's goals: the ratio cold and warm against the goal, and whether each meets it.
function Get-Goal([string] $What, [double] $Cold, [double] $Warm, [double] $Goal, [string] $Against) {
    $verdict = { param($ratio) if ($ratio -ge $Goal) { 'met' } else { 'not met' } }
    "- Goal: $What at least $('{0:N1}' -f $Goal)x $Against. Cold: $('{0:N2}' -f $Cold)x, $(& $verdict $Cold); warm: $('{0:N2}' -f $Warm)x, $(& $verdict $Warm)."
}

$server = Start-FakeLlm -Configuration Release
$sections = [System.Collections.Generic.List[string]]::new()
$started = Get-Date
try {
    # Overhead: zero latency, C=10. The bare loop, file mode and pipeline mode twice each, alternating; each run does the
    # work twice in its process: cold is the first time (a fresh process), warm the second (a session that has run it).
    $c = 10
    Write-Host "Overhead: zero latency, C=$c, $overheadRows rows" -ForegroundColor Cyan
    Set-FakeLlmConfig $server @{ latencyMs = 0 }
    $data = New-Data $overheadRows '.csv'
    $results = foreach ($round in 1..2) {
        foreach ($contender in 'bare', 'file', 'pipeline') { Invoke-Contender $contender $data $c $server.BaseUrl -Repeat 2 }
    }
    $results = @($results) + @(Invoke-Contender 'parallel' $data $c $server.BaseUrl)
    $bare = Get-Best $results 'bare'
    $bareRate = $bare.rows / $bare.seconds
    $bareWarm = Get-BestWarm $results 'bare'
    $bareWarmRate = $bareWarm.rows / $bareWarm.warmSeconds
    $table = @("| contender | cold: rows/s | cold: vs bare loop | cold: elapsed | warm: rows/s | warm: vs bare loop | warm: elapsed | peak RSS |", "|---|---:|---:|---:|---:|---:|---:|---:|")
    $ratios = @{}
    foreach ($name in 'bare', 'file', 'pipeline', 'parallel') {
        $best = Get-Best $results $name
        $rate = $best.rows / $best.seconds
        $ratios["$name-cold"] = $rate / $bareRate
        if ($name -eq 'parallel') {
            # 40 s a run: once, cold only
            $table += "| {0} | {1:N0} | {2:N2}x | {3:N2} s | | | | {4:N0} MB |" -f $name, $rate, ($rate / $bareRate), $best.seconds, ($best.peakRssKb / 1024)
            continue
        }
        $warm = Get-BestWarm $results $name
        $warmRate = $warm.rows / $warm.warmSeconds
        $ratios["$name-warm"] = $warmRate / $bareWarmRate
        $table += "| {0} | {1:N0} | {2:N2}x | {3:N2} s | {4:N0} | {5:N2}x | {6:N2} s | {7:N0} MB |" -f $name, $rate, ($rate / $bareRate), $best.seconds,
            $warmRate, ($warmRate / $bareWarmRate), $warm.warmSeconds, ($best.peakRssKb / 1024)
    }
    $goals = @(
        (Get-Goal 'file mode' $ratios['file-cold'] $ratios['file-warm'] 0.8 'the bare loop'),
        (Get-Goal 'pipeline mode' $ratios['pipeline-cold'] $ratios['pipeline-warm'] 0.6 'the bare loop')
    )
    $sections.Add("## Overhead: zero latency, C=$c, $('{0:N0}' -f $overheadRows) rows`n`n" + ($table -join "`n") + @"


Each process did the rows twice: **cold** is the first time (a fresh process: .NET compiles the code as it first runs, and
recompiles what runs often), **warm** the second, in the same process (a session that has run before); each compares
with the bare loop's own cold or warm run. Peak RSS is that of the process over both.

$($goals -join "`n")
"@)

    # The journal's share: file mode's engine (FileRun, in the bench tool, no PowerShell) with the answer journal on and
    # off, alternating, on the same rows: what keeping every answer on disk as it arrives costs.
    Write-Host "Journal: zero latency, C=$c, $overheadRows rows" -ForegroundColor Cyan
    $results = foreach ($round in 1..2) {
        foreach ($contender in 'engine-journal-on', 'engine-journal-off') { Invoke-Contender $contender $data $c $server.BaseUrl }
    }
    $off = Get-Best $results 'engine-journal-off'
    $offRate = $off.rows / $off.seconds
    $table = @("| journal | contender | rows/s | vs journal off | vs bare loop | elapsed | peak RSS |", "|---|---|---:|---:|---:|---:|---:|")
    foreach ($pair in @(('on (as file mode runs)', 'engine-journal-on'), ('off', 'engine-journal-off'))) {
        $best = Get-Best $results $pair[1]
        $rate = $best.rows / $best.seconds
        $table += "| {0} | {1} | {2:N0} | {3:N2}x | {4:N2}x | {5:N2} s | {6:N0} MB |" -f $pair[0], $pair[1], $rate, ($rate / $offRate), ($rate / $bareRate), $best.seconds, ($best.peakRssKb / 1024)
    }
    $sections.Add("## Journal: zero latency, C=$c, $('{0:N0}' -f $overheadRows) rows`n`n" + ($table -join "`n") + @"


File mode's engine (FileRun, run by the bench tool without PowerShell) with the answer journal on, as every file run
has it, and off (no command turns it off: only batch merges run without it). **vs journal off** is the journal's share
of a row's cost; **vs bare loop** compares with the bare loop of the overhead table above.
"@)

    # Checking: zero latency, C=10. File mode with -Check (PowerShell's parser in the process; Python in one python3
    # process fed over stdin) beside plain file mode, alternating, each twice in its process; the peak memory counts the python3 process.
    Write-Host "Checking: zero latency, C=$c, $overheadRows rows" -ForegroundColor Cyan
    $results = foreach ($round in 1..2) {
        foreach ($contender in 'file', 'file-check-powershell', 'file-check-python') { Invoke-Contender $contender $data $c $server.BaseUrl -Repeat 2 }
    }
    $plain = Get-Best $results 'file'
    $plainRate = $plain.rows / $plain.seconds
    $plainWarm = Get-BestWarm $results 'file'
    $plainWarmRate = $plainWarm.rows / $plainWarm.warmSeconds
    $table = @("| contender | cold: rows/s | cold: vs plain file mode | cold: elapsed | warm: rows/s | warm: vs plain file mode | warm: elapsed | peak RSS (with the checker process) |", "|---|---:|---:|---:|---:|---:|---:|---:|")
    $goals = @()
    foreach ($name in 'file', 'file-check-powershell', 'file-check-python') {
        $best = Get-Best $results $name
        $rate = $best.rows / $best.seconds
        $warm = Get-BestWarm $results $name
        $warmRate = $warm.rows / $warm.warmSeconds
        $table += "| {0} | {1:N0} | {2:N2}x | {3:N2} s | {4:N0} | {5:N2}x | {6:N2} s | {7:N0} MB |" -f $name, $rate, ($rate / $plainRate), $best.seconds,
            $warmRate, ($warmRate / $plainWarmRate), $warm.warmSeconds, ($best.peakRssKb / 1024)
        if ($name -ne 'file') {
            $goals += Get-Goal "``-Check`` ($($name -replace '^file-check-', ''))" ($rate / $plainRate) ($warmRate / $plainWarmRate) 0.9 'plain file mode'
        }
    }
    $sections.Add("## Checking: zero latency, C=$c, $('{0:N0}' -f $overheadRows) rows`n`n" + ($table -join "`n") + @"


Rows/s of the check contenders count the rows whose code parsed (every row's does: the fake answers comment lines, which
parse as PowerShell and as Python). Each process did the rows twice, cold then warm, as in the overhead table.

$($goals -join "`n")
"@)

    # APIs: zero latency, C=10. The same file through chat completions, the Responses API and Anthropic's Messages API
    # (each answered by the fake server in its own shape), alternating: the wire format is the only difference.
    Write-Host "APIs: zero latency, C=$c, $overheadRows rows" -ForegroundColor Cyan
    $results = foreach ($round in 1..2) {
        foreach ($contender in 'file', 'file-responses', 'file-messages') { Invoke-Contender $contender $data $c $server.BaseUrl }
    }
    $plain = Get-Best $results 'file'
    $plainRate = $plain.rows / $plain.seconds
    $table = @("| API | contender | rows/s | vs chat completions | elapsed | peak RSS |", "|---|---|---:|---:|---:|---:|")
    foreach ($pair in @(('chat completions', 'file'), ('Responses API', 'file-responses'), ('Anthropic Messages API', 'file-messages'))) {
        $best = Get-Best $results $pair[1]
        $rate = $best.rows / $best.seconds
        $table += "| {0} | {1} | {2:N0} | {3:N2}x | {4:N2} s | {5:N0} MB |" -f $pair[0], $pair[1], $rate, ($rate / $plainRate), $best.seconds, ($best.peakRssKb / 1024)
    }
    $sections.Add("## APIs: zero latency, C=$c, $('{0:N0}' -f $overheadRows) rows`n`n" + ($table -join "`n") + @"


The same rows in file mode on each wire format (``-Api Responses``, ``-Provider Anthropic``), the fake server answering
each in its own shape: what a row costs CodeGen and the server on each API. The goal: no API slower than chat completions.
"@)

    # Latency-bound: L=200 ms, C=128. Requests go in waves: the limit is ceil(N/C) x L.
    $c = 128
    $latency = 200
    $limit = [math]::Ceiling($latencyRows / $c) * $latency / 1000
    Write-Host "Latency-bound: L=$latency ms, C=$c, $latencyRows rows (limit $limit s)" -ForegroundColor Cyan
    Set-FakeLlmConfig $server @{ latencyMs = $latency }
    $data = New-Data $latencyRows '.csv'
    $results = foreach ($round in 1..2) {
        foreach ($contender in 'bare', 'file', 'pipeline') { Invoke-Contender $contender $data $c $server.BaseUrl -Repeat 2 }
    }
    $results = @($results) + @(Invoke-Contender 'parallel' $data $c $server.BaseUrl -Repeat 2)
    $table = @("| contender | cold: elapsed | cold: % of the limit | warm: elapsed | warm: % of the limit |", "|---|---:|---:|---:|---:|")
    $goals = @()
    foreach ($name in 'bare', 'file', 'pipeline', 'parallel') {
        $cold = Get-Best $results $name
        $warm = Get-BestWarm $results $name
        $table += "| {0} | {1:N2} s | {2:N1}% | {3:N2} s | {4:N1}% |" -f $name, $cold.seconds, (100 * $limit / $cold.seconds), $warm.warmSeconds, (100 * $limit / $warm.warmSeconds)
        if ($name -in 'file', 'pipeline') {
            $verdict = { param($seconds) if ($limit / $seconds -ge 0.98) { 'met' } else { 'not met' } }
            $goals += "- Goal: $name mode at least 98% of the limit. Cold: $('{0:N1}' -f (100 * $limit / $cold.seconds))%, $(& $verdict $cold.seconds); " +
                "warm: $('{0:N1}' -f (100 * $limit / $warm.warmSeconds))%, $(& $verdict $warm.warmSeconds)."
        }
    }
    $sections.Add("## Latency-bound: L=$latency ms, C=$c, $('{0:N0}' -f $latencyRows) rows (limit $('{0:N2}' -f $limit) s)`n`n" + ($table -join "`n") + @"


Each contender ran twice in one process: **cold** is the first run (a fresh process: JIT compilation, new
connections, for CodeGen also building the resilience pipeline, which costs about 70 ms once); **warm** is the
second (a session that has run before: connections and code warm).

$($goals -join "`n")
"@)

    # Start-up: C rows, answered in L (one wave of the bare loop). What a fresh process pays once before its first
    # answers, apart from what the rows cost: the difference between cold and warm, against the bare loop's.
    $waveRows = $c
    Write-Host "Start-up: L=$latency ms, C=$c, $waveRows rows" -ForegroundColor Cyan
    $data = New-Data $waveRows '.csv'
    $results = foreach ($round in 1..2) {
        foreach ($contender in 'bare', 'file', 'pipeline') { Invoke-Contender $contender $data $c $server.BaseUrl -Repeat 2 }
    }
    $table = @("| contender | cold: elapsed | warm: elapsed | cold minus warm |", "|---|---:|---:|---:|")
    foreach ($name in 'bare', 'file', 'pipeline') {
        $cold = Get-Best $results $name
        $warm = Get-BestWarm $results $name
        $table += "| {0} | {1:N2} s | {2:N2} s | {3:N2} s |" -f $name, $cold.seconds, $warm.warmSeconds, ($cold.seconds - $warm.warmSeconds)
    }
    $sections.Add("## Start-up: L=$latency ms, C=$c, $waveRows rows`n`n" + ($table -join "`n") + @"


As many rows as requests in flight: the bare loop sends them together and they come back $latency ms later, and so
does CodeGen in a session that has run before. **cold minus warm** is what a fresh process pays once, before and
around its first answers: compiling the request path, opening the connections and, for CodeGen, building the
resilience pipeline and sending a first 16 requests until the server's answers say whether it announces a rate
limit (the rest go a latency later: that alone is $latency ms of it, which a session that has run against the server
does not pay again). Compare it with the difference between the cold and the warm latency-bound runs above: a
longer run pays it once.
"@)

    # Provider limits: a server that announces and enforces 1,200 requests a minute (OpenAI's x-ratelimit-*
    # headers, a token bucket of one second, 429 + Retry-After when it is empty), answers in 200 ms, C=64.
    $c = 64
    $rpm = 1200
    Write-Host "Rate limit: $rpm requests/min announced, L=200 ms, C=$c, $rateRows rows" -ForegroundColor Cyan
    $data = New-Data $rateRows '.csv'
    $table = @("| run | elapsed | rows/s | % of the provider's rate | requests sent | refused (429) | % refused |", "|---|---:|---:|---:|---:|---:|---:|")
    foreach ($case in @(@{ Name = 'no configuration (paced to the headers)'; Rpm = 0 }, @{ Name = "by hand: -RequestsPerMinute $rpm"; Rpm = $rpm })) {
        Set-FakeLlmConfig $server @{ latencyMs = 200; rateLimitRequestsPerMinute = $rpm }
        Reset-FakeLlm $server
        $result = Invoke-Contender 'file' $data $c $server.BaseUrl -RequestsPerMinute $case.Rpm
        $stats = Get-FakeLlmStats $server
        $rate = $result.rows / $result.seconds
        $table += "| {0} | {1:N2} s | {2:N1} | {3:N1}% | {4:N0} | {5:N0} | {6:N1}% |" -f $case.Name, $result.seconds, $rate, (100 * $rate / ($rpm / 60)),
            $stats.requests, $stats.rateLimited, (100 * $stats.rateLimited / [math]::Max(1, $stats.requests))
    }
    $sections.Add("## Rate limit announced by the server: $('{0:N0}' -f $rpm) requests/min, L=200 ms, C=$c, $('{0:N0}' -f $rateRows) rows`n`n" + ($table -join "`n") + @"


The goal: at least 95% of the provider's rate with at most 5% of the requests refused, with no configuration.
The server's bucket holds one second of requests, so a run that ignored its headers would send 64 at once and
have most of them refused; the rate counts the rows the output received.
"@)

    # Capacity blips: 5% of requests answered 429 (Retry-After: 1) at random, whatever the load; 150-450 ms answers, C=32.
    $c = 32
    Write-Host "Capacity blips: 5% random 429s, L=150-450 ms, C=$c, $blipRows rows" -ForegroundColor Cyan
    $data = New-Data $blipRows '.csv'
    $table = @("| run | elapsed | rows/s | vs fault-free | 429s | most in flight |", "|---|---:|---:|---:|---:|---:|")
    $baseline = $null
    foreach ($case in @(@{ Name = 'fault-free'; Rate = 0.0 }, @{ Name = '5% random 429s'; Rate = 0.05 })) {
        Set-FakeLlmConfig $server @{ latencyMs = 150; jitterMs = 300; fault429Rate = $case.Rate; retryAfterSeconds = 1; seed = 17 }
        Reset-FakeLlm $server
        $result = Invoke-Contender 'file' $data $c $server.BaseUrl
        $stats = Get-FakeLlmStats $server
        $rate = $result.rows / $result.seconds
        if (-not $baseline) { $baseline = $rate }
        $table += "| {0} | {1:N2} s | {2:N1} | {3:N2}x | {4:N0} | {5} |" -f $case.Name, $result.seconds, $rate, ($rate / $baseline), $stats.throttled, $stats.maxInFlight
    }
    $sections.Add("## Capacity blips: 5% random 429s, L=150-450 ms, C=$c, $('{0:N0}' -f $blipRows) rows`n`n" + ($table -join "`n") + @"


The goal: at least 80% of the fault-free run's throughput. A 429 that comes now and then, whatever the load,
is retried after its Retry-After without lowering the concurrency; **most in flight** is the server's count.
"@)

    # Memory: file mode at three sizes, zero latency, C=32.
    $c = 32
    Write-Host "Memory: file mode, zero latency, C=$c" -ForegroundColor Cyan
    Set-FakeLlmConfig $server @{ latencyMs = 0 }
    $table = @("| rows | elapsed | rows/s | peak RSS | live heap after |", "|---:|---:|---:|---:|---:|")
    foreach ($rows in $memoryRows) {
        $result = Invoke-Contender 'file' (New-Data $rows '.csv') $c $server.BaseUrl
        $table += "| {0:N0} | {1:N2} s | {2:N0} | {3:N0} MB | {4:N1} MB |" -f $rows, $result.seconds, ($result.rows / $result.seconds), ($result.peakRssKb / 1024), ($result.liveHeapKb / 1024)
    }
    # The floor under those figures: the same pwsh doing nothing, without and with the module imported.
    $peakOf = "'{`"peakRssKb`":' + ((Get-Content /proc/self/status | Where-Object { `$_ -like 'VmHWM:*' }) -replace '\D', '') + '}'"
    $bare = Read-Json (& dotnet $pwsh -NoProfile -NonInteractive -Command $peakOf) 'idle pwsh'
    $idle = Read-Json (& dotnet $pwsh -NoProfile -NonInteractive -Command "Import-Module '$manifest'; $peakOf") 'idle pwsh with the module'
    $sections.Add("## Memory: file mode, zero latency, C=$c`n`n" + ($table -join "`n") +
        "`n`nFor scale, the same pwsh doing nothing peaks at $('{0:N0}' -f ($bare.peakRssKb / 1024)) MB, and at " +
        "$('{0:N0}' -f ($idle.peakRssKb / 1024)) MB with the module imported; a run adds the rest. " +
        "**live heap after** is the managed memory still in use once the run is over and the garbage collector has run: " +
        "what a run would leak, if it leaked; peak RSS also counts what the collector keeps committed between collections.")

    # Storage: reading the same rows with CodeGen's readers and with PowerShell's own commands.
    Write-Host "Storage: reading $storageRows rows" -ForegroundColor Cyan
    $csv = New-Data $storageRows '.csv'
    $jsonl = New-Data $storageRows '.jsonl'
    $table = @("| command | file | seconds | rows/s | peak RSS |", "|---|---|---:|---:|---:|")
    foreach ($pair in @(('import-codegen-csv', $csv, 'Import-CodeGenData'), ('import-csv', $csv, 'Import-Csv'),
            ('import-codegen-jsonl', $jsonl, 'Import-CodeGenData'), ('convertfrom-json', $jsonl, 'Get-Content \| ConvertFrom-Json'))) {
        $result = Invoke-Contender $pair[0] $pair[1] 1 $server.BaseUrl
        $table += "| {0} | {1} | {2:N2} | {3:N0} | {4:N0} MB |" -f $pair[2], (Split-Path $pair[1] -Leaf), $result.seconds, ($result.rows / $result.seconds), ($result.peakRssKb / 1024)
    }
    $sections.Add("## Storage: reading $('{0:N0}' -f $storageRows) rows (piped to Measure-Object)`n`n" + ($table -join "`n"))

    # Measure-CodeGenCost: counting a whole file's prompt tokens before a run (nothing is sent).
    $costRows = 100000 / $scale
    Write-Host "Cost estimate: $costRows rows" -ForegroundColor Cyan
    $result = Invoke-Contender 'measure-cost' (New-Data $costRows '.csv') 1 $server.BaseUrl
    $table = @("| command | rows | seconds | rows/s | peak RSS |", "|---|---:|---:|---:|---:|",
        ("| Measure-CodeGenCost -Path rows.csv -Model gpt-4o-mini -MaxTokens 800 -Price ... | {0:N0} | {1:N2} | {2:N0} | {3:N0} MB |" -f $result.rows, $result.seconds, ($result.rows / $result.seconds), ($result.peakRssKb / 1024)))
    $sections.Add("## Cost estimate: $('{0:N0}' -f $costRows) rows`n`n" + ($table -join "`n") + @"


Every row's request is built as a run builds it and its prompt tokens counted with gpt-4o-mini's tokenizer (``o200k_base``);
nothing is sent. The time includes loading the tokenizer's data once.
"@)
}
finally {
    Stop-FakeLlm $server
}

$commit = (& git -C $RepoRoot rev-parse --short HEAD 2>$null)
if (& git -C $RepoRoot status --porcelain 2>$null) { $commit += ' (with uncommitted changes)' }
$cpu = ((Get-Content /proc/cpuinfo | Where-Object { $_ -like 'model name*' } | Select-Object -First 1) -split ':\s*', 2)[1]
$memory = [math]::Round(([long]((Get-Content /proc/meminfo | Select-Object -First 1) -replace '\D', '')) / 1MB, 1)
$header = @"
# Benchmarks

Produced by ``./build.ps1 -Task bench``$(if ($Quick) { ' -Quick (workloads divided by 10)' }) on $($started.ToUniversalTime().ToString('yyyy-MM-dd HH:mm')) UTC at commit $commit,
in $([math]::Round(((Get-Date) - $started).TotalMinutes, 1)) minutes.
Machine: $cpu, $([Environment]::ProcessorCount) cores, $memory GiB, $([System.Runtime.InteropServices.RuntimeInformation]::OSDescription),
.NET $([Environment]::Version), PowerShell $($PSVersionTable.PSVersion). The fake server (tests/FakeLlm, Kestrel) runs on the same
cores, so every figure includes its cost. The machine is shared: compare figures within one run, not across runs.

Contenders, all on the same generated CSV rows and the same request bodies:
- **bare**: the limit, a minimal C# HttpClient loop (tests/Bench) with the same concurrency; no storage, no PowerShell.
- **engine-journal-on**, **engine-journal-off**: file mode's engine (FileRun) run by the bench tool without PowerShell, with the answer journal on and off.
- **file**: ``Invoke-CodeInstructionToCode -Path in.csv -OutputPath out.csv``.
- **file-responses**, **file-messages**: file mode on the Responses API (``-Api Responses``) and Anthropic's Messages API (``-Provider Anthropic``).
- **file-check-powershell**, **file-check-python**: file mode with ``-Check -Language PowerShell`` or ``-Check -Language Python``.
- **pipeline**: ``Import-Csv in.csv | Invoke-CodeInstructionToCode | Export-Csv out.csv``.
- **parallel**: ``Import-Csv | ForEach-Object -Parallel { Invoke-RestMethod ... } -ThrottleLimit C | Export-Csv`` (the hand-written idiom;
  note that it returns rows in completion order, not input order, and extracts no code).

Times exclude process start-up and Import-Module. Fast contenders ran twice, alternating; the best run is shown (the best cold and the best warm run, where a table has both).
"@
$document = $header + "`n" + ($sections -join "`n`n") + "`n"
$target = Join-Path $RepoRoot 'docs/benchmarks.md'
New-Item -ItemType Directory -Force -Path (Split-Path $target) | Out-Null
Set-Content -LiteralPath $target -Value $document -Encoding utf8NoBOM
Write-Host "`n$document"
Write-Host "Written to $target" -ForegroundColor Cyan
