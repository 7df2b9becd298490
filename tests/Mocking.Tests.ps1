# Pester's Mock, used as a user would use it on CodeGen's cmdlets from a module of their own: plain Mock,
# -ParameterFilter, pipeline input as $InputObject. Every exported cmdlet must be mockable: a parameter of a
# type PowerShell cannot resolve by name (the module's types live in its own load context) breaks the mock.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    # A user's module that calls every CodeGen cmdlet, with the parameters whose types once broke mocks.
    $script:UserModule = New-Module -Name UserPipeline -ScriptBlock {
        function Invoke-UserCall([string] $Name, [hashtable] $Parameters, $Pipe) {
            if ($null -ne $Pipe) { $Pipe | & $Name @Parameters } else { & $Name @Parameters }
        }
        function Convert-UserRows($Rows) { $Rows | Invoke-CodeInstructionToCode -Model gpt-4o-mini -Provider OpenAI }
        Export-ModuleMember -Function Invoke-UserCall, Convert-UserRows
    } | Import-Module -PassThru
}

AfterAll {
    Remove-Module UserPipeline -ErrorAction Ignore
    Restore-EndpointEnvironment
}

Describe 'Mocking CodeGen cmdlets' {
    It 'mocks <Name> as written, and the mock gets the parameters' -ForEach @(
        @{ Name = 'Invoke-CodeInstructionToCode'; Pipe = 'task'; Parameters = @{ Model = 'm'; Provider = 'AzureOpenAI'; CacheMode = 'ReadOnly' }; Check = { $Provider -eq 'AzureOpenAI' -and $CacheMode -eq 'ReadOnly' } }
        @{ Name = 'Invoke-CodeInstructionToCode'; Parameters = @{ Storage = 'anything'; Model = 'm' }; Check = { $Storage -eq 'anything' } }
        @{ Name = 'Import-CodeGenData'; Parameters = @{ Path = 'in.csv' }; Check = { $Path -eq 'in.csv' } }
        @{ Name = 'Export-CodeGenData'; Pipe = [pscustomobject]@{ a = 1 }; Parameters = @{ Path = 'out.csv' }; Check = { $Path -eq 'out.csv' } }
        @{ Name = 'New-CodeGenStorage'; Parameters = @{ FirstEntryFileName = 'in.jsonl' }; Check = { $FirstEntryFileName -eq 'in.jsonl' } }
        @{ Name = 'Set-CodeGenEndpoint'; Parameters = @{ Provider = 'AzureOpenAI'; CacheMode = 'Refresh' }; Check = { $Provider -eq 'AzureOpenAI' } }
        @{ Name = 'Get-CodeGenEndpoint'; Parameters = @{}; Check = { $true } }
        @{ Name = 'Clear-CodeGenEndpoint'; Parameters = @{}; Check = { $true } }
        @{ Name = 'Export-CodeGenBatch'; Pipe = 'task'; Parameters = @{ OutFile = 'requests.jsonl'; Provider = 'AzureOpenAI' }; Check = { $Provider -eq 'AzureOpenAI' } }
        @{ Name = 'Import-CodeGenBatchResult'; Parameters = @{ Path = 'in.csv'; ResultPath = 'out.jsonl'; OutputPath = 'merged.csv' }; Check = { $ResultPath -eq 'out.jsonl' } }
        @{ Name = 'Get-CodeGenBatch'; Parameters = @{ OutputPath = 'out.csv' }; Check = { $OutputPath -eq 'out.csv' } }
        @{ Name = 'Stop-CodeGenBatch'; Parameters = @{ OutputPath = 'out.csv' }; Check = { $OutputPath -eq 'out.csv' } }
        @{ Name = 'Test-CodeGenCode'; Pipe = 'Get-Date'; Parameters = @{ Language = 'PowerShell' }; Check = { $InputObject -eq 'Get-Date' -and $Language -eq 'PowerShell' } }
        @{ Name = 'Measure-CodeGenCost'; Parameters = @{ Path = 'big.csv'; Model = 'gpt-4o-mini'; MaxTokens = 800; Price = @{ Input = 0.15; Output = 0.60 } }; Check = { $Path -eq 'big.csv' -and $MaxTokens -eq 800 -and $Price.Output -eq 0.60 } }
    ) {
        Mock $Name -ModuleName UserPipeline { 'mocked' }
        $pipe = if ($_.ContainsKey('Pipe')) { $_.Pipe } else { $null }
        InModuleScope UserPipeline -Parameters @{ Name = $Name; Parameters = $Parameters; Pipe = $pipe } { Invoke-UserCall $Name $Parameters $Pipe } | Should -Be 'mocked'
        Should -Invoke $Name -ModuleName UserPipeline -Times 1 -Exactly -ParameterFilter $Check
    }

    It 'covers every exported cmdlet' {
        $tested = 'Invoke-CodeInstructionToCode', 'Import-CodeGenData', 'Export-CodeGenData', 'New-CodeGenStorage', 'Set-CodeGenEndpoint', 'Get-CodeGenEndpoint',
            'Clear-CodeGenEndpoint', 'Export-CodeGenBatch', 'Import-CodeGenBatchResult', 'Get-CodeGenBatch', 'Stop-CodeGenBatch', 'Test-CodeGenCode', 'Measure-CodeGenCost'
        (Get-Command -Module CodeGen).Name | Sort-Object | Should -Be ($tested | Sort-Object)
    }

    It 'gets each piped row as $InputObject, with -ParameterFilter choosing the row' {
        Mock Invoke-CodeInstructionToCode -ModuleName UserPipeline { [pscustomobject]@{ instruction = $InputObject.instruction; generated_code = 'Get-Date' } }
        Mock Invoke-CodeInstructionToCode -ModuleName UserPipeline -ParameterFilter { $InputObject.instruction -eq 'b' } {
            [pscustomobject]@{ instruction = $InputObject.instruction; generated_code = 'Get-Process' }
        }
        $rows = 'a', 'b', 'c' | ForEach-Object { [pscustomobject]@{ instruction = $_ } }
        $result = Convert-UserRows $rows
        $result.generated_code | Should -Be 'Get-Date', 'Get-Process', 'Get-Date'
        Should -Invoke Invoke-CodeInstructionToCode -ModuleName UserPipeline -Times 3 -Exactly -ParameterFilter { $Model -eq 'gpt-4o-mini' -and $Provider -eq 'OpenAI' }
    }

    It 'keeps -Provider and -Storage as strict as typed parameters for the real cmdlet' {
        { 'task' | Invoke-CodeInstructionToCode -Endpoint http://127.0.0.1:9/v1 -Model m -Provider Nope -ErrorAction Stop } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
        { Invoke-CodeInstructionToCode -Storage 'not a storage' -Endpoint http://127.0.0.1:9/v1 -Model m -ErrorAction Stop } | Should -Throw '*New-CodeGenStorage*'
        (Get-Command Invoke-CodeInstructionToCode).Parameters['Provider'].Attributes.ValidValues | Should -Be 'OpenAI', 'AzureOpenAI', 'Anthropic'
        (Get-Command Invoke-CodeInstructionToCode).Parameters['Api'].Attributes.ValidValues | Should -Be 'ChatCompletions', 'Responses', 'Messages'
    }
}
