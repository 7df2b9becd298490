# CodeGen module manifest: the one source of the module version (build.ps1 stamps it into the assemblies).
# In the repository, RootModule loads the build output from out/CodeGen/bin (run ./build.ps1 -Task build first).
@{
    RootModule           = 'module/CodeGen.psm1'
    ModuleVersion        = '0.1.0'
    GUID                 = '52c74a88-2751-45e8-93f9-381c42585ead'
    Author               = 'CodeGen contributors'
    CompanyName          = 'CodeGen'
    Copyright            = '(c) CodeGen contributors.'
    Description          = 'Turns natural-language programming instructions into code with an LLM (any OpenAI-compatible endpoint), row by row, at scale: pipeline and file input, concurrent requests, input order kept, per-row errors.'
    PowerShellVersion    = '7.4'
    CompatiblePSEditions = @('Core')
    FormatsToProcess     = @('module/CodeGen.format.ps1xml')
    FunctionsToExport    = @()
    CmdletsToExport      = @(
        'Invoke-CodeInstructionToCode'
        'Test-CodeGenCode'
        'Measure-CodeGenCost'
        'Import-CodeGenData'
        'Export-CodeGenData'
        'New-CodeGenStorage'
        'Set-CodeGenEndpoint'
        'Get-CodeGenEndpoint'
        'Clear-CodeGenEndpoint'
        'Export-CodeGenBatch'
        'Import-CodeGenBatchResult'
        'Get-CodeGenBatch'
        'Stop-CodeGenBatch'
    )
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            Tags = @('LLM', 'OpenAI', 'CodeGeneration', 'DataPipeline', 'DataFlow', 'Ollama', 'vLLM', 'PSEdition_Core', 'Linux', 'Windows', 'MacOS')
        }
    }
}
