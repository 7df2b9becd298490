<#
.SYNOPSIS
    Records ./cache: runs the pipeline once against a live endpoint with -CacheMode Refresh, so the tests
    can replay every answer offline. Run it again when the instructions or the prompt change.
.DESCRIPTION
    This example records against the project's stub server on a fixed port, so that anyone can record it again
    without a key. Start the stub first, in a terminal of its own, from the repository's root:

        dotnet pwsh ./build.ps1 -Task stub -Port 18080

    then run this script in another one (it needs the built module, ./build.ps1 -Task build), and stop the stub
    with Ctrl+C. The stub's answers are placeholders, and the [[fake:...]] markers in instructions.csv make it
    answer one row with broken code and refuse another. A real project records against its real endpoint and
    model, the ones its tests then name (the endpoint and the model are part of each answer's key):

        ./Record-Cache.ps1 -Endpoint https://api.openai.com/v1 -Model gpt-4o-mini    # with CODEGEN_API_KEY set
.PARAMETER Endpoint
    The endpoint to record against. Default: the stub server on port 18080, the endpoint CodePipeline.Tests.ps1 names.
.PARAMETER Model
    The model to record with. Default fake-coder, the model CodePipeline.Tests.ps1 names.
#>
[CmdletBinding()]
param(
    [string] $Endpoint = 'http://127.0.0.1:18080/v1',
    [string] $Model = 'fake-coder'
)
$ErrorActionPreference = 'Stop'
$root = Resolve-Path (Join-Path $PSScriptRoot '../..')
Import-Module (Join-Path $root 'CodeGen.psd1') -Force
Import-Module (Join-Path $PSScriptRoot 'CodePipeline.psm1') -Force

# Nothing listening would record nothing and set every row aside: say how to start the stub instead.
$uri = [uri]$Endpoint
$probe = [System.Net.Sockets.TcpClient]::new()
try { $probe.Connect($uri.Host, $uri.Port) }
catch {
    throw "Nothing answers at $Endpoint. Start the stub server first, in a terminal of its own: dotnet pwsh ./build.ps1 -Task stub -Port $($uri.Port)"
}
finally { $probe.Dispose() }

Set-CodeGenEndpoint -Endpoint $Endpoint -Model $Model -CachePath (Join-Path $PSScriptRoot 'cache') -CacheMode Refresh
$scratch = Join-Path ([System.IO.Path]::GetTempPath()) "codegen-record-$PID"
try {
    New-Item -ItemType Directory -Path $scratch -Force | Out-Null
    Invoke-CodePipeline -InputPath (Join-Path $PSScriptRoot 'instructions.csv') -OutputPath (Join-Path $scratch 'kept.jsonl') -RejectedPath (Join-Path $scratch 'rejected.jsonl')
}
finally {
    Clear-CodeGenEndpoint
    Remove-Item -LiteralPath $scratch -Recurse -Force -ErrorAction Ignore
}
