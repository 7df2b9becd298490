# Tests of the example pipeline, written the way a user of CodeGen writes them. They run offline, with no
# key and no server, and give the same result every run:
#  - the whole pipeline replays the answers recorded in ./cache (-CacheMode ReadOnly);
#  - the pipeline's own logic is tested with Invoke-CodeInstructionToCode mocked;
#  - a row the cache has not recorded, and a row the model failed, take the error path.
BeforeAll {
    # A user writes: Import-Module CodeGen. Here, the module built from this repository.
    Import-Module (Join-Path $PSScriptRoot '../../CodeGen.psd1') -Force
    Import-Module (Join-Path $PSScriptRoot 'CodePipeline.psm1') -Force

    # No key anywhere: a replay needs none.
    $script:KeyVariables = 'CODEGEN_API_KEY', 'OPENAI_API_KEY', 'DF_API_KEY', 'AZURE_OPENAI_API_KEY'
    $script:SavedKeys = @{}
    foreach ($name in $script:KeyVariables) {
        $script:SavedKeys[$name] = [Environment]::GetEnvironmentVariable($name)
        [Environment]::SetEnvironmentVariable($name, $null)
    }

    # The endpoint and model the cache was recorded with (Record-Cache.ps1): they are part of each answer's key.
    # ReadOnly: answers come only from ./cache; nothing is sent, and a request it does not hold is a CacheMiss.
    Set-CodeGenEndpoint -Endpoint 'http://127.0.0.1:18080/v1' -Model 'fake-coder' -CachePath (Join-Path $PSScriptRoot 'cache') -CacheMode ReadOnly
    $script:Instructions = Join-Path $PSScriptRoot 'instructions.csv'
}

AfterAll {
    Clear-CodeGenEndpoint
    foreach ($name in $script:KeyVariables) { [Environment]::SetEnvironmentVariable($name, $script:SavedKeys[$name]) }
}

Describe 'Invoke-CodePipeline, replayed from the recorded answers' {
    It 'keeps the rows whose code parses and sets the others aside with their reason' {
        $kept = Join-Path $TestDrive 'kept.jsonl'
        $rejected = Join-Path $TestDrive 'rejected.jsonl'

        $summary = Invoke-CodePipeline -InputPath $script:Instructions -OutputPath $kept -RejectedPath $rejected

        $summary.Kept | Should -Be 2
        $rows = Get-Content -LiteralPath $kept | ConvertFrom-Json
        $rows.id | Should -Be 'bytes', 'largest'
        $rows[0].generated_code | Should -Match 'ConvertTo-HumanSize'
        $aside = Get-Content -LiteralPath $rejected | ConvertFrom-Json
        $aside.id | Should -Be 'uptime', 'secrets'
        $aside[0].reason | Should -BeLike 'does not parse:*'
        $aside[1].reason | Should -Be 'LlmContentFiltered'   # the model's refusal, recorded and replayed
    }

    It 'writes the same output on every run' {
        $first = Join-Path $TestDrive 'first.jsonl'
        $second = Join-Path $TestDrive 'second.jsonl'
        Invoke-CodePipeline -InputPath $script:Instructions -OutputPath $first | Out-Null
        Invoke-CodePipeline -InputPath $script:Instructions -OutputPath $second | Out-Null
        (Get-FileHash -LiteralPath $second).Hash | Should -Be (Get-FileHash -LiteralPath $first).Hash
    }

    It 'sets a row the cache has not recorded aside as CacheMiss, and keeps the others' {
        $csv = Join-Path $TestDrive 'new-row.csv'
        Import-Csv -LiteralPath $script:Instructions | Select-Object -First 2 | Export-Csv -LiteralPath $csv
        [pscustomobject]@{ id = 'new'; instruction = 'Write a PowerShell function nobody has asked for yet.' } | Export-Csv -LiteralPath $csv -Append

        $summary = Invoke-CodePipeline -InputPath $csv -OutputPath (Join-Path $TestDrive 'kept.jsonl')

        $summary.Kept | Should -Be 2
        $summary.Reasons | Should -Be 'new: CacheMiss'
    }

    It 'reports a CacheMiss as an error record a script can catch' {
        $row = [pscustomobject]@{ id = 'new'; instruction = 'Write a PowerShell function nobody has asked for yet.' }
        $result = $row | Invoke-CodeInstructionToCode -ErrorVariable failures -ErrorAction SilentlyContinue
        $result.generated_code | Should -BeNullOrEmpty
        $failures.Count | Should -Be 1
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'CacheMiss,*'
        $failures[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $failures[0].Exception.Message | Should -BeLike 'Row 1: *'
        $failures[0].TargetObject.id | Should -Be 'new'
    }
}

Describe 'Invoke-CodePipeline logic, with CodeGen mocked' {
    BeforeEach {
        # Each row gets code that parses, unless a test says otherwise. The mock receives each row as $InputObject.
        Mock Invoke-CodeInstructionToCode -ModuleName CodePipeline {
            $InputObject | Add-Member -NotePropertyName generated_code -NotePropertyValue "Get-ChildItem -Path '$($InputObject.id)'" -PassThru
        }
        $script:Csv = Join-Path $TestDrive 'rows.csv'
        @(
            [pscustomobject]@{ id = 'a'; instruction = 'first' }
            [pscustomobject]@{ id = 'b'; instruction = 'second' }
        ) | Export-Csv -LiteralPath $script:Csv
    }

    It 'writes the rows it keeps as JSON Lines, in input order' {
        $out = Join-Path $TestDrive 'kept.jsonl'
        Invoke-CodePipeline -InputPath $script:Csv -OutputPath $out | Out-Null
        $lines = Get-Content -LiteralPath $out
        $lines | Should -HaveCount 2
        ($lines[0] | ConvertFrom-Json).generated_code | Should -Be "Get-ChildItem -Path 'a'"
        Should -Invoke Invoke-CodeInstructionToCode -ModuleName CodePipeline -Times 2 -Exactly
    }

    It 'sets aside a row whose code does not parse' {
        Mock Invoke-CodeInstructionToCode -ModuleName CodePipeline -ParameterFilter { $InputObject.id -eq 'b' } {
            $InputObject | Add-Member -NotePropertyName generated_code -NotePropertyValue 'function Broken {' -PassThru
        }
        $summary = Invoke-CodePipeline -InputPath $script:Csv -OutputPath (Join-Path $TestDrive 'kept.jsonl')
        $summary.Kept | Should -Be 1
        $summary.Reasons | Should -BeLike 'b: does not parse:*'
    }

    It 'sets aside a row that failed, with the error id as its reason' {
        Mock Invoke-CodeInstructionToCode -ModuleName CodePipeline -ParameterFilter { $InputObject.id -eq 'a' } {
            # What the cmdlet does for a failed row: an error record for the row, and the row without code. The
            # record still reaches the pipeline's -ErrorVariable; SilentlyContinue only keeps it off the screen,
            # as the pipeline's own -ErrorAction does for the real cmdlet.
            Write-Error -Message 'Row 1: no answer within 600 s' -ErrorId LlmTimeout -Category OperationTimeout -TargetObject $InputObject -ErrorAction SilentlyContinue
            $InputObject | Add-Member -NotePropertyName generated_code -NotePropertyValue $null -PassThru
        }
        $rejected = Join-Path $TestDrive 'rejected.jsonl'
        $summary = Invoke-CodePipeline -InputPath $script:Csv -OutputPath (Join-Path $TestDrive 'kept.jsonl') -RejectedPath $rejected
        $summary.Kept | Should -Be 1
        (Get-Content -LiteralPath $rejected | ConvertFrom-Json).reason | Should -Be 'LlmTimeout'
    }
}
