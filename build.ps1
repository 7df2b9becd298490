#Requires -Version 7.4
<#
.SYNOPSIS
    Builds, tests and demonstrates CodeGen.
.DESCRIPTION
    -Task build  Compiles the engine, the cmdlets and their loader into out/CodeGen/bin (what ./CodeGen.psd1
                 loads), renders the help from docs/help into it, and builds the fake OpenAI-compatible server
                 used by tests and the demo.
    -Task test   Builds, runs the xunit tests and the Pester tests (in a fresh pwsh that imports the built
                 module), and ends with one line "N passed, M failed" for both. Exits non-zero on any failure.
    -Task demo   Builds and runs examples/instructions.csv through Invoke-CodeInstructionToCode. Uses the
                 endpoint in CODEGEN_ENDPOINT when it is set; otherwise starts the local stub server.
    -Task stub   Builds the local stub server (tests/FakeLlm) and runs it in the foreground on 127.0.0.1:-Port (0, the
                 default: a free port), until Ctrl+C: an OpenAI-compatible endpoint, no key needed, whose code is
                 placeholder text echoing each task. To try commands offline, record a response cache for Pester,
                 or run examples in CI. Prints "listening on <endpoint>" once it answers.
    -Task package
                 Builds in Release and lays the module out as it installs (out/package/CodeGen/<version>:
                 manifest, psm1, format views, bin/ with the loader, bin/lib with the assemblies and help), then
                 packs it into out/package/CodeGen.<version>.nupkg with Compress-PSResource, ready for
                 Publish-PSResource -NupkgPath or a file repository that Install-PSResource reads.
    -Task bench  Builds in Release and runs the benchmarks against the fake server (throughput against a bare
                 HttpClient loop and ForEach-Object -Parallel, latency efficiency, memory, storage); writes
                 docs/benchmarks.md. -Quick divides the workloads by 10.
.EXAMPLE
    dotnet tool restore && dotnet pwsh ./build.ps1 -Task test
.EXAMPLE
    dotnet pwsh ./build.ps1 -Task stub -Port 8080
#>
[CmdletBinding()]
param(
    [ValidateSet('build', 'test', 'demo', 'stub', 'bench', 'package')]
    [string] $Task = 'build',

    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Debug',

    # bench only: workloads divided by 10
    [switch] $Quick,

    # stub only: the port the stub server listens on (0: a free one, printed)
    [ValidateRange(0, 65535)]
    [int] $Port = 0
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
    Build-ModuleBinaries -Bin (Join-Path $out 'CodeGen/bin') -Manifest (Join-Path $root 'CodeGen.psd1')
    Build-Stub
}

function Build-Stub {
    # The fake OpenAI-compatible server (tests/FakeLlm) that the tests, the demo and -Task stub start.
    Invoke-Dotnet build (Join-Path $root 'tests/FakeLlm/FakeLlm.csproj') -c $Configuration --nologo -v quiet
}

function Build-ModuleBinaries([string] $Bin, [string] $Manifest) {
    # bin/CodeGen.Loader.dll loads everything in bin/lib into the module's own load context;
    # the help goes to bin/lib/en-US, beside CodeGen.dll, where Get-Help looks for it.
    $version = Get-ModuleVersion
    Write-Host "Building CodeGen $version ($Configuration) into $Bin" -ForegroundColor Cyan
    Remove-Item -LiteralPath $Bin -Recurse -Force -ErrorAction Ignore
    Invoke-Dotnet publish (Join-Path $root 'src/CodeGen/CodeGen.csproj') -c $Configuration -o (Join-Path $Bin 'lib') "-p:Version=$version" --nologo -v quiet
    Invoke-Dotnet publish (Join-Path $root 'src/CodeGen.Loader/CodeGen.Loader.csproj') -c $Configuration -o $Bin "-p:Version=$version" --nologo -v quiet
    Invoke-HelpBuild -Manifest $Manifest -Destination (Join-Path $Bin 'lib/en-US')
}

function Invoke-HelpBuild([string] $Manifest, [string] $Destination) {
    # MAML and about topics from docs/help/*.md, rendered in a pwsh of its own (it imports the built module)
    & dotnet (Join-Path $PSHOME 'pwsh.dll') -NoProfile -NonInteractive -File (Join-Path $root 'docs/help/Build-Help.ps1') `
        -ModuleManifest $Manifest -SourcePath (Join-Path $root 'docs/help') -OutputPath $Destination | Out-Host
    if ($LASTEXITCODE -ne 0) { throw "Rendering the help failed (exit code $LASTEXITCODE)." }
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
        return @{ Passed = 0; Failed = 1; Failures = @() }
    }
    $report = [xml](Get-Content -LiteralPath $trx -Raw)
    $counters = $report.TestRun.ResultSummary.Counters
    $failed = [int]$counters.failed + [int]$counters.error + [int]$counters.timeout + [int]$counters.aborted
    if ($exit -ne 0 -and $failed -eq 0) { $failed = 1 }
    # The names and first message lines of failed tests, repeated at the end of the run where CI logs keep them.
    $failures = @($report.TestRun.Results.UnitTestResult | Where-Object outcome -NE 'Passed' | ForEach-Object {
        $message = "$($_.Output.ErrorInfo.Message)".Trim() -split '\r?\n' | Select-Object -First 3
        "$($_.testName): $($message -join ' | ')"
    })
    @{ Passed = [int]$counters.passed; Failed = $failed; Failures = $failures }
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
        return @{ Passed = 0; Failed = 1; Failures = @() }
    }
    $counts = Get-Content -LiteralPath $summary -Raw | ConvertFrom-Json
    @{ Passed = [int]$counts.Passed; Failed = [int]$counts.Failed; Failures = @($counts.Failures) }
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
    foreach ($failure in @($xunit.Failures | ForEach-Object { "xunit: $_" }) + @($pester.Failures | ForEach-Object { "Pester: $_" })) {
        Write-Host "FAILED $failure" -ForegroundColor Red
    }
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

function Invoke-Stub {
    # Only the server is built: the module a user tries against it comes from -Task build (a rebuild here would
    # replace the module's files under a session that has it loaded).
    Build-Stub
    Import-Module (Join-Path $root 'tests/FakeLlm/FakeLlm.psm1') -Force
    $stub = Start-FakeLlm -Configuration $Configuration -Port $Port
    try {
        Write-Host "CodeGen's stub server is listening on $($stub.BaseUrl)" -ForegroundColor Green
        Write-Host @"
An OpenAI-compatible endpoint for trying CodeGen offline: no key, any model name. Its code is PLACEHOLDER TEXT
that echoes each task, not an LLM's answer. From another PowerShell (after ./build.ps1 -Task build):
    Import-Module ./CodeGen.psd1
    Set-CodeGenEndpoint -Endpoint $($stub.BaseUrl) -Model stub
    Import-Csv examples/instructions.csv | Invoke-CodeInstructionToCode
or, for scripts and CI: `$env:CODEGEN_ENDPOINT = '$($stub.BaseUrl)'; `$env:CODEGEN_MODEL = 'stub'
Press Ctrl+C to stop it.
"@ -ForegroundColor Yellow
        # a short wait at a time, so Ctrl+C stops the loop (and the finally block stops the server)
        while (-not $stub.Process.WaitForExit(500)) { }
        throw "The stub server stopped by itself (exit code $($stub.Process.ExitCode)): $($stub.Process.StandardError.ReadToEnd())"
    }
    finally {
        Stop-FakeLlm $stub
    }
}

function Invoke-Package {
    # A Release build laid out as the module installs, in its own folder (the repository's out/CodeGen is untouched).
    $script:Configuration = 'Release'
    $version = Get-ModuleVersion
    $packageRoot = Join-Path $out 'package'
    $moduleDir = Join-Path $packageRoot "CodeGen/$version"
    Remove-Item -LiteralPath $packageRoot -Recurse -Force -ErrorAction Ignore
    New-Item -ItemType Directory -Force -Path $moduleDir | Out-Null
    Copy-Item -LiteralPath (Join-Path $root 'module/CodeGen.psm1'), (Join-Path $root 'module/CodeGen.format.ps1xml'), (Join-Path $root 'README.md') -Destination $moduleDir
    # the repository manifest points into module/; the packaged one has its files beside it
    $manifest = (Get-Content -Raw -LiteralPath (Join-Path $root 'CodeGen.psd1')) -replace "'module/", "'"
    Set-Content -LiteralPath (Join-Path $moduleDir 'CodeGen.psd1') -Value $manifest -Encoding utf8NoBOM -NoNewline
    Build-ModuleBinaries -Bin (Join-Path $moduleDir 'bin') -Manifest (Join-Path $moduleDir 'CodeGen.psd1')
    Get-ChildItem -LiteralPath (Join-Path $moduleDir 'bin') -Recurse -Include '*.pdb', '*.deps.json' | Remove-Item
    Test-ModuleManifest -Path (Join-Path $moduleDir 'CodeGen.psd1') | Out-Null
    Compress-PSResource -Path $moduleDir -DestinationPath $packageRoot
    $nupkg = Join-Path $packageRoot "CodeGen.$version.nupkg"
    if (-not (Test-Path -LiteralPath $nupkg)) { throw "Compress-PSResource did not write $nupkg." }
    Write-Host "Module: $moduleDir" -ForegroundColor Green
    Write-Host "Package: $nupkg" -ForegroundColor Green
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
    'stub' { Invoke-Stub }
    'package' { Invoke-Package }
}
