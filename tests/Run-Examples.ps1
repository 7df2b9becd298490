# Runs documentation examples (tests/Examples.Tests.ps1 hands them over) in this fresh pwsh, each in a folder of
# its own with the files it reads, and writes what each produced (errors, warnings) as JSON. A process of its
# own because .NET reads the proxy settings (HTTP_PROXY routes http://localhost:11434/v1 and the like to the
# stub server) once per process, and because an example may change the session (Set-CodeGenEndpoint, $env:).
param(
    [Parameter(Mandatory)] [string] $ExamplesPath,
    [Parameter(Mandatory)] [string] $ResultsPath,
    [Parameter(Mandatory)] [string] $ServerRoot,
    [Parameter(Mandatory)] [string] $WorkPath
)
$ErrorActionPreference = 'Continue'   # as in a user's session
$repo = Split-Path $PSScriptRoot -Parent
Import-Module (Join-Path $repo 'tests/FakeLlm/FakeLlm.psm1')
$server = [pscustomobject]@{ Root = $ServerRoot }

function New-ExampleFolder([string] $Path) {
    $null = New-Item -ItemType Directory -Path $Path, (Join-Path $Path 'examples'), (Join-Path $Path 'batches'), (Join-Path $Path 'data')
    $tasks = @(
        [pscustomobject]@{ id = 1; language = 'PowerShell'; difficulty = 1; instruction = 'Write a PowerShell function that converts bytes to a human-readable size' }
        [pscustomobject]@{ id = 2; language = 'Python'; difficulty = 4; instruction = 'Write a Python function that parses an ISO 8601 duration' }
        [pscustomobject]@{ id = 3; language = 'Bash'; difficulty = 2; instruction = 'Write a Bash script that rotates *.log files' }
    )
    Copy-Item -LiteralPath (Join-Path $repo 'examples/instructions.csv') -Destination (Join-Path $Path 'examples/instructions.csv')
    foreach ($name in 'instructions.csv', 'tasks.csv', 'big.csv', 'batches/a.csv', 'batches/b.csv') { $tasks | Export-Csv -LiteralPath (Join-Path $Path $name) }
    foreach ($name in 'data/a.csv', 'data/b.csv') { $tasks | Export-Csv -LiteralPath (Join-Path $Path $name) -Delimiter ';' }
    foreach ($name in 'tasks.jsonl', 'big.jsonl', 'rows.jsonl', 'instructions.jsonl') {
        $tasks | ForEach-Object { $_ | ConvertTo-Json -Compress } | Set-Content -LiteralPath (Join-Path $Path $name)
    }
    $tasks | Select-Object id, @{ n = 'prompt'; e = { $_.instruction } } | Export-Csv -LiteralPath (Join-Path $Path 'prompts.csv')
}

$results = [ordered]@{}
foreach ($example in Get-Content -Raw -LiteralPath $ExamplesPath | ConvertFrom-Json) {
    Reset-FakeLlm $server
    # a batch finishes at the first look, unless the example comes back for it later (-NoWait, a cancel)
    Set-FakeLlmConfig $server @{ batchPollsToComplete = $example.BatchPolls }
    if (Get-Module CodeGen) { Clear-CodeGenEndpoint }
    $environment = [Environment]::GetEnvironmentVariables()   # an example may set $env:..., the next one starts without it
    $folder = Join-Path $WorkPath ($results.Count + 1)
    New-ExampleFolder $folder
    $output = @()
    Push-Location $folder
    try {
        if ($example.Before) { $null = & ([scriptblock]::Create($example.Before)) *>&1 }
        $output = @(& ([scriptblock]::Create($example.Code)) *>&1)
    }
    catch {
        $output += $_
    }
    finally {
        Pop-Location
        foreach ($name in @([Environment]::GetEnvironmentVariables().Keys)) { if (-not $environment.Contains($name)) { [Environment]::SetEnvironmentVariable($name, $null) } }
        foreach ($name in $environment.Keys) { [Environment]::SetEnvironmentVariable($name, $environment[$name]) }
    }
    $results[$example.Name] = [ordered]@{
        Errors   = @($output | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] } | ForEach-Object { [ordered]@{ Id = ($_.FullyQualifiedErrorId -split ',')[0]; Message = "$_" } })
        Warnings = @($output | Where-Object { $_ -is [System.Management.Automation.WarningRecord] } | ForEach-Object { "$_" })
    }
}
$results | ConvertTo-Json -Depth 5 | Set-Content -LiteralPath $ResultsPath -Encoding utf8
