# One benchmark contender in a fresh pwsh: does the work (-Repeat times, in the same session), then prints
# {"rows","seconds","warmSeconds","peakRssKb","liveHeapKb"} as JSON: seconds is the first (cold) run, warmSeconds
# the last; liveHeapKb is the managed heap still in use after the work and a full collection.
# Started by Invoke-Benchmark.ps1; the clock covers the work only, not pwsh start-up or Import-Module.
param(
    [Parameter(Mandatory)]
    [ValidateSet('file', 'file-responses', 'file-messages', 'file-check-powershell', 'file-check-python', 'pipeline', 'parallel', 'import-codegen-csv', 'import-csv', 'import-codegen-jsonl', 'convertfrom-json', 'measure-cost')]
    [string] $Contender,
    [Parameter(Mandatory)] [string] $Manifest,
    [Parameter(Mandatory)] [string] $InputPath,
    [string] $OutputPath,
    [string] $Url,
    [int] $Concurrency = 10,
    [int] $Repeat = 1,
    # file only: a client-side limit, as a user sets it by hand (0: none, keep to what the server announces)
    [int] $RequestsPerMinute = 0
)
$ErrorActionPreference = 'Stop'
Import-Module $Manifest
if ($OutputPath) { Remove-Item -LiteralPath $OutputPath -ErrorAction Ignore }
$common = @{ Endpoint = $Url; Model = 'bench'; ThrottleLimit = $Concurrency }
if ($RequestsPerMinute -gt 0) { $common.RequestsPerMinute = $RequestsPerMinute }

# -Check contenders: the peak memory of the checker processes this pwsh starts (python3), sampled from /proc while
# they run (VmHWM only grows, so the last sample of each is its peak)
$children = [hashtable]::Synchronized(@{})
$sampler = $null
if ($Contender -like 'file-check-*') {
    $sampler = [powershell]::Create().AddScript({
        param($parent, $peaks)
        while ($true) {
            foreach ($dir in [IO.Directory]::EnumerateDirectories('/proc')) {
                $name = [IO.Path]::GetFileName($dir)
                if ($name -notmatch '^\d+$') { continue }
                try { $lines = [IO.File]::ReadAllLines("$dir/status") } catch { continue }
                if ([int](($lines -match '^PPid:') -replace '\D', '') -eq $parent) {
                    $hwm = [long](($lines -match '^VmHWM:') -replace '\D', '')
                    if ($hwm -gt 0) { $peaks[$name] = $hwm }
                }
            }
            Start-Sleep -Milliseconds 100
        }
    }).AddArgument($PID).AddArgument($children)
    $null = $sampler.BeginInvoke()
}

$times = foreach ($run in 1..$Repeat) {
if ($OutputPath) { Remove-Item -LiteralPath $OutputPath -ErrorAction Ignore }
$clock = [System.Diagnostics.Stopwatch]::StartNew()
switch ($Contender) {
    'file' {
        $rows = (Invoke-CodeInstructionToCode -Path $InputPath -OutputPath $OutputPath @common).Generated
    }
    'file-responses' {
        $rows = (Invoke-CodeInstructionToCode -Path $InputPath -OutputPath $OutputPath @common -Api Responses).Generated
    }
    'file-messages' {
        # Anthropic's API wants a key even from the fake server: any will do
        $rows = (Invoke-CodeInstructionToCode -Path $InputPath -OutputPath $OutputPath @common -Provider Anthropic -ApiKey 'bench-key-0123456789').Generated
    }
    'file-check-powershell' {
        $rows = (Invoke-CodeInstructionToCode -Path $InputPath -OutputPath $OutputPath @common -Check -Language PowerShell).CheckOk
    }
    'file-check-python' {
        $rows = (Invoke-CodeInstructionToCode -Path $InputPath -OutputPath $OutputPath @common -Check -Language Python).CheckOk
    }
    'pipeline' {
        Import-Csv -LiteralPath $InputPath | Invoke-CodeInstructionToCode @common | Export-Csv -LiteralPath $OutputPath
    }
    'parallel' {
        # The PowerShell idiom: a hand-written parallel loop over Invoke-RestMethod, same prompt and body.
        $chat = "$Url/chat/completions"
        # the same default prompt CodeGen sends; its types live in the module's own load context, so no type literal
        $context = [System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext((Get-Command Invoke-CodeInstructionToCode).ImplementingType.Assembly)
        $promptBuilder = ($context.Assemblies | Where-Object { $_.GetName().Name -eq 'CodeGen.Core' }).GetType('CodeGen.Core.Prompting.PromptBuilder')
        $preamble = $promptBuilder::DefaultPreamble($null)
        Import-Csv -LiteralPath $InputPath | ForEach-Object -Parallel {
            $body = @{ model = 'bench'; messages = @(@{ role = 'user'; content = $using:preamble + $_.instruction }) } | ConvertTo-Json -Depth 4 -Compress
            $answer = Invoke-RestMethod -Uri $using:chat -Method Post -ContentType 'application/json' -Body $body -NoProxy
            $_ | Add-Member -NotePropertyName generated_code -NotePropertyValue $answer.choices[0].message.content -PassThru
        } -ThrottleLimit $Concurrency | Export-Csv -LiteralPath $OutputPath
    }
    'import-codegen-csv' { $rows = (Import-CodeGenData -Path $InputPath | Measure-Object).Count }
    'import-csv' { $rows = (Import-Csv -LiteralPath $InputPath | Measure-Object).Count }
    'import-codegen-jsonl' { $rows = (Import-CodeGenData -Path $InputPath | Measure-Object).Count }
    'convertfrom-json' { $rows = (Get-Content -LiteralPath $InputPath | ConvertFrom-Json | Measure-Object).Count }
    'measure-cost' { $rows = (Measure-CodeGenCost -Path $InputPath -Model gpt-4o-mini -MaxTokens 800 -Price @{ Input = 0.15; Output = 0.60 }).Rows }
}
$clock.Stop()
$clock.Elapsed.TotalSeconds
}
if ($Contender -in 'pipeline', 'parallel') {
    $rows = @(Import-CodeGenData -Path $OutputPath | Where-Object generated_code).Count
}
$peak = [long]((Get-Content /proc/self/status | Where-Object { $_ -like 'VmHWM:*' }) -replace '\D', '')
if ($sampler) {
    $sampler.Stop()
    $peak += ($children.Values | Measure-Object -Sum).Sum
}
$live = [long]([GC]::GetTotalMemory($true) / 1KB)
[ordered]@{ rows = $rows; seconds = @($times)[0]; warmSeconds = @($times)[-1]; peakRssKb = $peak; liveHeapKb = $live } | ConvertTo-Json -Compress
