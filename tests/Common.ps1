# Dot-sourced by every *.Tests.ps1 in BeforeAll: imports the built module and the fake-server helpers,
# and hides the caller's endpoint variables so a developer's real key can never reach a test (or the reverse).
$script:RepoRoot = Split-Path $PSScriptRoot -Parent
Import-Module (Join-Path $script:RepoRoot 'CodeGen.psd1') -Force
Import-Module (Join-Path $script:RepoRoot 'tests/FakeLlm/FakeLlm.psm1') -Force

$script:EndpointVariables = 'CODEGEN_ENDPOINT', 'CODEGEN_MODEL', 'CODEGEN_API_KEY', 'OPENAI_BASE_URL', 'OPENAI_API_KEY', 'DF_API_KEY'
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
