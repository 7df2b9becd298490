# Runs every *.Tests.ps1 under tests/ and examples/ (the worked examples' own tests) with the Pester module at
# -PesterPath and writes the pass/fail counts to -SummaryPath as JSON. build.ps1 -Task test starts this in a fresh pwsh.
param(
    [Parameter(Mandatory)] [string] $PesterPath,
    [Parameter(Mandatory)] [string] $SummaryPath
)
$ErrorActionPreference = 'Stop'
Import-Module -Name $PesterPath -Force
$configuration = New-PesterConfiguration
$configuration.Run.Path = @($PSScriptRoot, (Join-Path (Split-Path $PSScriptRoot -Parent) 'examples'))
$configuration.Run.PassThru = $true
$configuration.Output.Verbosity = 'Detailed'
$result = Invoke-Pester -Configuration $configuration
$failed = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
# Failed tests by name with the first lines of their message, for build.ps1 to repeat at the end of the run.
$failures = @(@($result.Failed) + @($result.FailedBlocks) + @($result.FailedContainers) | Where-Object { $_ } | ForEach-Object {
    $message = "$($_.ErrorRecord | Select-Object -First 1)".Trim() -split '\r?\n' | Select-Object -First 3
    $name = if ($_.PSObject.Properties['ExpandedPath']) { $_.ExpandedPath } else { "$($_.Item)" }
    "$($name): $($message -join ' | ')"
})
@{ Passed = $result.PassedCount; Failed = $failed; Failures = $failures } | ConvertTo-Json | Set-Content -LiteralPath $SummaryPath -Encoding utf8
exit ([int]($failed -gt 0))
