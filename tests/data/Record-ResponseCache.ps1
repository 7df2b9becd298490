<#
.SYNOPSIS
    Records tests/data/response-cache, the committed cache that Cache.Tests.ps1 replays: the first three rows of
    DataFlow's raw_code.jsonl (long multi-line prompts in the input column), answered by the stub server on a
    fixed port, so the endpoint in every key is http://127.0.0.1:18080/v1 and the model fake-coder.
.DESCRIPTION
    Run it again only on purpose: when the key format changes (and ResponseCache.KeyFormat with it), or when the
    default prompt changes. Otherwise the replay test is what says that an upgrade keeps recorded answers valid.
    Needs the built module and stub server (./build.ps1 -Task build).
#>
[CmdletBinding()]
param()
$ErrorActionPreference = 'Stop'
$root = Resolve-Path (Join-Path $PSScriptRoot '../..')
Import-Module (Join-Path $root 'CodeGen.psd1') -Force
Import-Module (Join-Path $root 'tests/FakeLlm/FakeLlm.psm1') -Force

$cache = Join-Path $PSScriptRoot 'response-cache'
Remove-Item -LiteralPath $cache -Recurse -Force -ErrorAction Ignore
$server = Start-FakeLlm -Port 18080
try {
    Get-Content -LiteralPath (Join-Path $PSScriptRoot 'dataflow-examples/raw_code.jsonl') -TotalCount 3 | ConvertFrom-Json |
        Invoke-CodeInstructionToCode -Endpoint 'http://127.0.0.1:18080/v1' -Model 'fake-coder' -InputKey input -CachePath $cache -CacheMode Refresh |
        Out-Null
}
finally {
    $server | Stop-FakeLlm
}
