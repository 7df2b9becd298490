# PowerShell helpers for the fake OpenAI-compatible server: start it as a child process on a free
# 127.0.0.1 port, read and reset its counters, change how it answers, stop it.
# Used by the Pester tests, build.ps1 -Task demo and the benchmarks.

$script:RepoRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path

function Start-FakeLlm {
    [CmdletBinding()]
    param(
        [int] $LatencyMs = 0,
        # 0: a free port. A fixed one gives a fixed endpoint URL (recording a response cache for replay).
        [int] $Port = 0,
        [int] $JitterMs = 0,
        [string] $Style = 'fenced',
        [int] $Seed,
        [switch] $Record,
        [ValidateSet('Debug', 'Release')]
        [string] $Configuration = 'Debug'
    )
    $dll = Join-Path $script:RepoRoot "out/artifacts/bin/FakeLlm/$($Configuration.ToLowerInvariant())/FakeLlm.dll"
    if (-not (Test-Path -LiteralPath $dll)) {
        throw "The fake server is not built: $dll is missing. Run ./build.ps1 -Task build."
    }
    $psi = [System.Diagnostics.ProcessStartInfo]::new('dotnet')
    foreach ($a in @($dll, '--port', $Port, '--latency-ms', $LatencyMs, '--jitter-ms', $JitterMs, '--style', $Style, '--stop-on-stdin-eof')) {
        $psi.ArgumentList.Add([string]$a)
    }
    if ($PSBoundParameters.ContainsKey('Seed')) { $psi.ArgumentList.Add('--seed'); $psi.ArgumentList.Add([string]$Seed) }
    if ($Record) { $psi.ArgumentList.Add('--record') }
    $psi.UseShellExecute = $false
    $psi.RedirectStandardInput = $true
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $process = [System.Diagnostics.Process]::Start($psi)
    $read = $process.StandardOutput.ReadLineAsync()
    if (-not $read.Wait(30000) -or -not $read.Result -or $read.Result -notmatch 'listening on (\S+)') {
        try { $process.Kill($true) } catch { }
        throw "The fake server did not start: $($read.Result) $($process.StandardError.ReadToEnd())"
    }
    $baseUrl = $Matches[1]
    [pscustomobject]@{
        PSTypeName = 'CodeGen.Tests.FakeLlm'
        Process    = $process
        BaseUrl    = $baseUrl
        Root       = $baseUrl -replace '/v1$', ''
    }
}

function Stop-FakeLlm {
    [CmdletBinding()]
    param([Parameter(Mandatory, ValueFromPipeline)] $Server)
    process {
        try { $Server.Process.StandardInput.Close() } catch { }
        if (-not $Server.Process.WaitForExit(5000)) {
            try { $Server.Process.Kill($true) } catch { }
        }
    }
}

function Get-FakeLlmStats {
    [CmdletBinding()]
    param([Parameter(Mandatory)] $Server)
    Invoke-RestMethod -Uri "$($Server.Root)/_fake/stats" -NoProxy
}

function Reset-FakeLlm {
    [CmdletBinding()]
    param([Parameter(Mandatory)] $Server)
    $null = Invoke-RestMethod -Method Post -Uri "$($Server.Root)/_fake/reset" -NoProxy
}

function Set-FakeLlmConfig {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] $Server,
        [Parameter(Mandatory)] [hashtable] $Config
    )
    $null = Invoke-RestMethod -Method Post -Uri "$($Server.Root)/_fake/config" -NoProxy -ContentType 'application/json' -Body ($Config | ConvertTo-Json -Compress)
}

function Revoke-FakeLlmToken {
    # Every token /msi/token issued so far stops working (later calls to /msi/token issue fresh ones).
    [CmdletBinding()]
    param([Parameter(Mandatory)] $Server)
    $null = Invoke-RestMethod -Method Post -Uri "$($Server.Root)/_fake/revoke-tokens" -NoProxy
}

function Get-FakeLlmCode {
    # The placeholder code the server writes for a task (what the extracted code of a row should be).
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] $Server,
        [Parameter(Mandatory)] [string] $Task
    )
    $bytes = [System.Text.Encoding]::UTF8.GetBytes($Task)
    Invoke-RestMethod -Method Post -Uri "$($Server.Root)/_fake/code" -NoProxy -ContentType 'text/plain; charset=utf-8' -Body $bytes
}

Export-ModuleMember -Function Start-FakeLlm, Stop-FakeLlm, Get-FakeLlmStats, Reset-FakeLlm, Set-FakeLlmConfig, Get-FakeLlmCode, Revoke-FakeLlmToken
