<#
.SYNOPSIS
    Records ./cache: runs the pipeline once against a live endpoint with -CacheMode Refresh, so the tests
    can replay every answer offline. Run it again when the instructions or the prompt change.
.DESCRIPTION
    This example records against the project's stub server (tests/FakeLlm) on a fixed port, so that anyone can
    record it again without a key; its answers are placeholders, and the [[fake:...]] markers in
    instructions.csv make it answer one row with broken code and refuse another. A real project records
    against its real endpoint and model, the ones its tests then name (the endpoint and the model are part
    of each answer's key):

        Set-CodeGenEndpoint -Endpoint https://api.openai.com/v1 -Model gpt-4o-mini -ApiKey $key -CachePath ./cache -CacheMode Refresh
        Invoke-CodePipeline -InputPath ./instructions.csv -OutputPath ./kept.jsonl

    Needs the built module (./build.ps1 -Task build).
#>
[CmdletBinding()]
param()
$ErrorActionPreference = 'Stop'
$root = Resolve-Path (Join-Path $PSScriptRoot '../..')
Import-Module (Join-Path $root 'CodeGen.psd1') -Force
Import-Module (Join-Path $root 'tests/FakeLlm/FakeLlm.psm1') -Force
Import-Module (Join-Path $PSScriptRoot 'CodePipeline.psm1') -Force

$server = Start-FakeLlm -Port 18080
try {
    Set-CodeGenEndpoint -Endpoint 'http://127.0.0.1:18080/v1' -Model 'fake-coder' -CachePath (Join-Path $PSScriptRoot 'cache') -CacheMode Refresh
    $scratch = Join-Path ([System.IO.Path]::GetTempPath()) "codegen-record-$PID"
    New-Item -ItemType Directory -Path $scratch -Force | Out-Null
    Invoke-CodePipeline -InputPath (Join-Path $PSScriptRoot 'instructions.csv') -OutputPath (Join-Path $scratch 'kept.jsonl') -RejectedPath (Join-Path $scratch 'rejected.jsonl')
    Remove-Item -LiteralPath $scratch -Recurse -Force
}
finally {
    Clear-CodeGenEndpoint
    $server | Stop-FakeLlm
}
