#Requires -Version 7.4
<#
.SYNOPSIS
    Builds, tests and demonstrates CodeGen.
.DESCRIPTION
    -Task build  Compiles the engine and the cmdlets into out/CodeGen/bin (what ./CodeGen.psd1 loads) and
                 the fake OpenAI-compatible server used by tests and the demo.
    -Task test   Builds, runs the xunit tests and the Pester tests (in a fresh pwsh that imports the built
                 module), and ends with one line "N passed, M failed" for both. Exits non-zero on any failure.
    -Task demo   Builds and runs examples/instructions.csv through Invoke-CodeInstructionToCode. Uses the
                 endpoint in CODEGEN_ENDPOINT when it is set; otherwise starts the local stub server.
    -Task bench  Builds in Release and runs the benchmarks against the fake server (throughput against a bare
                 HttpClient loop and ForEach-Object -Parallel, latency efficiency, memory, storage); writes
                 docs/benchmarks.md. -Quick divides the workloads by 10.
.EXAMPLE
    dotnet tool restore && dotnet pwsh ./build.ps1 -Task test
#>
[CmdletBinding()]
param(
    [ValidateSet('build', 'test', 'demo', 'bench')]
    [string] $Task = 'build',

    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Debug',

    # bench only: workloads divided by 10
    [switch] $Quick
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$root = $PSScriptRoot
$out = Join-Path $root 'out'

function Invoke-Dotnet {
    # Runs dotnet with the given arguments (its output goes to the console) and stops the build when it fails.
    & dotnet @args | Out-Host
    if ($LASTEXITCODE -ne 0) { throw "dotnet $($args -join ' ') failed (exit code $LASTEXITCODE)." }
}

function Get-ModuleVersion {
    (Import-PowerShellDataFile -LiteralPath (Join-Path $root 'CodeGen.psd1')).ModuleVersion
}

function Invoke-Build {
    $version = Get-ModuleVersion
    Write-Host "Building CodeGen $version ($Configuration)" -ForegroundColor Cyan
    $bin = Join-Path $out 'CodeGen/bin'
    Invoke-Dotnet publish (Join-Path $root 'src/CodeGen/CodeGen.csproj') -c $Configuration -o $bin "-p:Version=$version" --nologo -v quiet
    Invoke-Dotnet build (Join-Path $root 'tests/FakeLlm/FakeLlm.csproj') -c $Configuration --nologo -v quiet
}

function Get-PesterModulePath {
    # Pester comes from NuGet (PackageDownload in tests/Tools/Tools.csproj), not from the PowerShell Gallery.
    Invoke-Dotnet restore (Join-Path $root 'tests/Tools/Tools.csproj') --nologo -v quiet
    $packages = $env:NUGET_PACKAGES
    if (-not $packages) {
        $line = & dotnet nuget locals global-packages --list | Select-Object -First 1
        $packages = ($line -replace '^global-packages:\s*', '').Trim()
    }
    $psd1 = Join-Path $packages 'pester/5.7.1/tools/Pester.psd1'
    if (-not (Test-Path -LiteralPath $psd1)) { throw "Pester 5.7.1 was restored but $psd1 is missing." }
    $psd1
}

function Invoke-XunitTests {
    # Returns @{ Passed; Failed } read from the TRX report.
    $results = Join-Path $out 'test-results'
    $trx = Join-Path $results 'xunit.trx'
    Remove-Item -LiteralPath $trx -ErrorAction Ignore
    & dotnet test (Join-Path $root 'tests/CodeGen.Core.Tests/CodeGen.Core.Tests.csproj') -c $Configuration --nologo `
        --logger 'trx;LogFileName=xunit.trx' --logger 'console;verbosity=normal' --results-directory $results | Out-Host
    $exit = $LASTEXITCODE
    if (-not (Test-Path -LiteralPath $trx)) {
        Write-Host "xunit produced no report (dotnet test exit code $exit)." -ForegroundColor Red
        return @{ Passed = 0; Failed = 1 }
    }
    $counters = ([xml](Get-Content -LiteralPath $trx -Raw)).TestRun.ResultSummary.Counters
    $failed = [int]$counters.failed + [int]$counters.error + [int]$counters.timeout + [int]$counters.aborted
    if ($exit -ne 0 -and $failed -eq 0) { $failed = 1 }
    @{ Passed = [int]$counters.passed; Failed = $failed }
}

function Invoke-PesterTests {
    # Runs Pester in a fresh pwsh (nothing of this session leaks in) and returns @{ Passed; Failed }.
    $pester = Get-PesterModulePath
    $summary = Join-Path $out 'test-results/pester.json'
    Remove-Item -LiteralPath $summary -ErrorAction Ignore
    $pwsh = Join-Path $PSHOME 'pwsh.dll'
    & dotnet $pwsh -NoProfile -NonInteractive -File (Join-Path $root 'tests/Run-Pester.ps1') -PesterPath $pester -SummaryPath $summary | Out-Host
    $exit = $LASTEXITCODE
    if (-not (Test-Path -LiteralPath $summary)) {
        Write-Host "Pester produced no summary (exit code $exit)." -ForegroundColor Red
        return @{ Passed = 0; Failed = 1 }
    }
    $counts = Get-Content -LiteralPath $summary -Raw | ConvertFrom-Json
    @{ Passed = [int]$counts.Passed; Failed = [int]$counts.Failed }
}

function Invoke-Test {
    Invoke-Build
    New-Item -ItemType Directory -Force -Path (Join-Path $out 'test-results') | Out-Null
    Write-Host 'xunit: engine tests' -ForegroundColor Cyan
    $xunit = Invoke-XunitTests
    Write-Host 'Pester: module tests' -ForegroundColor Cyan
    $pester = Invoke-PesterTests
    $passed = $xunit.Passed + $pester.Passed
    $failed = $xunit.Failed + $pester.Failed
    Write-Host "xunit: $($xunit.Passed) passed, $($xunit.Failed) failed; Pester: $($pester.Passed) passed, $($pester.Failed) failed"
    Write-Host "$passed passed, $failed failed"
    if ($failed -gt 0) { exit 1 }
}

function Invoke-Demo {
    Invoke-Build
    Import-Module (Join-Path $root 'CodeGen.psd1') -Force
    Import-Module (Join-Path $root 'tests/FakeLlm/FakeLlm.psm1') -Force
    $csv = Join-Path $root 'examples/instructions.csv'
    $stub = $null
    $parameters = @{ ThrottleLimit = 8 }
    if ($env:CODEGEN_ENDPOINT) {
        Write-Host "Using the endpoint in CODEGEN_ENDPOINT (model from CODEGEN_MODEL)." -ForegroundColor Cyan
    }
    else {
        $stub = Start-FakeLlm -Configuration $Configuration -LatencyMs 150 -JitterMs 250
        $parameters.Endpoint = $stub.BaseUrl
        $parameters.Model = 'stub'
        Write-Host @"
No CODEGEN_ENDPOINT is set, so this demo talks to CodeGen's local stub server at $($stub.BaseUrl).
The code below is PLACEHOLDER OUTPUT FROM THE STUB (it echoes each task), not an LLM's answer.
To use a real model, set the endpoint, model and key, then run the demo again, for example:
    `$env:CODEGEN_ENDPOINT = 'https://api.openai.com/v1'; `$env:CODEGEN_MODEL = 'gpt-4o-mini'; `$env:CODEGEN_API_KEY = '<your key>'
    `$env:CODEGEN_ENDPOINT = 'http://localhost:11434/v1'; `$env:CODEGEN_MODEL = 'qwen2.5-coder'   # Ollama, no key
"@ -ForegroundColor Yellow
    }
    try {
        Write-Host "Import-Csv examples/instructions.csv | Invoke-CodeInstructionToCode`n" -ForegroundColor Cyan
        $rows = Import-Csv -LiteralPath $csv | Invoke-CodeInstructionToCode @parameters -Verbose 4>&1 | ForEach-Object {
            if ($_ -is [System.Management.Automation.VerboseRecord]) {
                if ($_.Message -like 'Invoke-CodeInstructionToCode:*') { Write-Host $_.Message -ForegroundColor DarkGray }
                return
            }
            $_
        }
        foreach ($row in $rows) {
            Write-Host ("[{0}] {1}" -f $row.id, $row.instruction) -ForegroundColor Green
            Write-Host (($row.generated_code -split "`n" | ForEach-Object { "    $_" }) -join "`n")
            Write-Host ''
        }
        Write-Host "$(@($rows).Count) rows, each with a generated_code column. Pipe to Export-Csv to keep them." -ForegroundColor Cyan
    }
    finally {
        if ($stub) { Stop-FakeLlm $stub }
    }
}

function Invoke-Bench {
    $script:Configuration = 'Release'
    Invoke-Build
    Invoke-Dotnet build (Join-Path $root 'tests/Bench/CodeGen.Bench.csproj') -c Release --nologo -v quiet
    & (Join-Path $root 'tests/Bench/Invoke-Benchmark.ps1') -RepoRoot $root -Quick:$Quick
}

switch ($Task) {
    'build' { Invoke-Build }
    'bench' { Invoke-Bench }
    'test' { Invoke-Test }
    'demo' { Invoke-Demo }
}
