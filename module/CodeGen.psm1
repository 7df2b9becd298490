# Loads CodeGen's compiled cmdlets. A packaged module keeps them in bin/ next to this file; in the
# repository they are the build output in out/CodeGen/bin (./build.ps1 -Task build puts them there).
# CodeGen.Loader.dll is the only assembly loaded the ordinary way: it loads CodeGen and its dependencies
# from bin/lib into the module's own AssemblyLoadContext, so other versions of them in the session do not clash.
$bin = Join-Path $PSScriptRoot 'bin'
if (-not (Test-Path -LiteralPath (Join-Path $bin 'CodeGen.Loader.dll'))) {
    $bin = Join-Path (Split-Path $PSScriptRoot -Parent) 'out/CodeGen/bin'
}
$loader = Join-Path $bin 'CodeGen.Loader.dll'
if (-not (Test-Path -LiteralPath $loader)) {
    throw "CodeGen is not built yet: $loader is missing. Run 'dotnet pwsh ./build.ps1 -Task build' in the repository first."
}

$reloading = [bool]('CodeGen.Loader.LoadContext' -as [type])
if (-not $reloading) {
    Add-Type -LiteralPath $loader
}
$cmdlets = Import-Module -Assembly ([CodeGen.Loader.LoadContext]::Initialize()) -PassThru -ErrorAction Stop

if ($reloading) {
    # Import-Module -Force a second time in a session: PowerShell reuses the module it cached for this
    # assembly and does not attach it (nor hand its cmdlets) to this new module, so the cmdlets would vanish
    # and Get-Help would not look beside CodeGen.dll. Attach both (PowerShell/PowerShell#20710).
    $flags = [System.Reflection.BindingFlags]'Instance, NonPublic'
    $thisModule = $ExecutionContext.SessionState.Module
    $addNested = [System.Management.Automation.PSModuleInfo].GetMethod('AddNestedModule', $flags)
    $addCmdlet = [System.Management.Automation.PSModuleInfo].GetMethod('AddExportedCmdlet', $flags)
    if (-not $addNested -or -not $addCmdlet) {
        throw 'CodeGen is already loaded in this session and this PowerShell version cannot re-import it. Start a new session to load it again.'
    }
    $addNested.Invoke($thisModule, @(, $cmdlets.psobject.BaseObject))
    foreach ($cmdlet in $cmdlets.ExportedCmdlets.Values) {
        $addCmdlet.Invoke($thisModule, @(, $cmdlet))
    }
}
