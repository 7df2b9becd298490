# Loads CodeGen's compiled cmdlets. A packaged module keeps them in bin/ next to this file; in the
# repository they are the build output in out/CodeGen/bin (./build.ps1 -Task build puts them there).
$bin = Join-Path $PSScriptRoot 'bin'
if (-not (Test-Path -LiteralPath (Join-Path $bin 'CodeGen.dll'))) {
    $bin = Join-Path (Split-Path $PSScriptRoot -Parent) 'out/CodeGen/bin'
}
$assembly = Join-Path $bin 'CodeGen.dll'
if (-not (Test-Path -LiteralPath $assembly)) {
    throw "CodeGen is not built yet: $assembly is missing. Run 'dotnet pwsh ./build.ps1 -Task build' in the repository first."
}
Import-Module -Name $assembly -ErrorAction Stop
