# Dot-sourced by every *.Tests.ps1 in BeforeAll: imports the built module and the fake-server helpers,
# and hides the caller's endpoint variables so a developer's real key can never reach a test (or the reverse).
$script:RepoRoot = Split-Path $PSScriptRoot -Parent
Import-Module (Join-Path $script:RepoRoot 'CodeGen.psd1') -Force
Import-Module (Join-Path $script:RepoRoot 'tests/FakeLlm/FakeLlm.psm1') -Force

# every variable the engine reads to find an endpoint, from the engine's own list (in the module's load context)
$script:EndpointVariables = & {
    $module = (Get-Command Invoke-CodeInstructionToCode).ImplementingType.Assembly
    $core = [System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext($module).LoadFromAssemblyName([System.Reflection.AssemblyName]::new('CodeGen.Core'))
    $core.GetType('CodeGen.Core.Llm.EndpointSettings', $true).GetProperty('EnvironmentVariables').GetValue($null)
}
$script:SavedEnvironment = @{}
foreach ($name in $script:EndpointVariables) {
    $script:SavedEnvironment[$name] = [Environment]::GetEnvironmentVariable($name)
    [Environment]::SetEnvironmentVariable($name, $null)
}

function Restore-EndpointEnvironment {
    foreach ($name in $script:EndpointVariables) {
        [Environment]::SetEnvironmentVariable($name, $script:SavedEnvironment[$name])
    }
}

function New-TestFolder {
    # A fresh folder under the test drive for files a test writes.
    $path = Join-Path $TestDrive ([Guid]::NewGuid().ToString('n'))
    New-Item -ItemType Directory -Path $path | Out-Null
    $path
}
