BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $server = Start-FakeLlm
    $common = @{ Endpoint = $server.BaseUrl; Model = 'fake-model' }
    $fast = @{ PollIntervalSec = 0.05 }

    function Reset-Server([hashtable] $Config = @{}) {
        Set-FakeLlmConfig $server $Config
        Reset-FakeLlm $server
    }

    function New-Input([string] $Folder, [int] $Count, [scriptblock] $Instruction = { "task $_" }) {
        $path = Join-Path $Folder 'in.csv'
        1..$Count | ForEach-Object { [pscustomobject]@{ id = $_; instruction = (& $Instruction) } } | Export-Csv -LiteralPath $path -UseQuotes AsNeeded
        $path
    }
}

AfterAll {
    Clear-CodeGenEndpoint
    if ($server) { Stop-FakeLlm $server }
    Restore-EndpointEnvironment
}

Describe 'Export-CodeGenBatch' {
    BeforeEach { Reset-Server }

    It 'writes one request line per row, without an endpoint or key, and reports rows it cannot send' {
        $folder = New-TestFolder
        $inFile = New-Input $folder 4 { if ($_ -eq 3) { ' ' } else { "task $_" } }
        $file = Export-CodeGenBatch -Path $inFile -OutFile (Join-Path $folder 'requests.jsonl') -Model 'gpt-4o-mini' -Temperature 0 -ErrorVariable errors -ErrorAction SilentlyContinue
        $file.Requests | Should -Be 3
        $errors.Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'EmptyInstruction*'
        $errors[0].TargetObject.id | Should -Be '3'

        $lines = @(Get-Content -LiteralPath $file.Path | ConvertFrom-Json)
        $lines.Count | Should -Be 3
        $lines.custom_id | Should -Be @(
            "row-1-$($lines[0].custom_id.Split('-')[2])", "row-2-$($lines[1].custom_id.Split('-')[2])", "row-4-$($lines[2].custom_id.Split('-')[2])")
        $lines[0].url | Should -Be '/v1/chat/completions'
        $lines[0].body.model | Should -Be 'gpt-4o-mini'
        $lines[0].body.temperature | Should -Be 0
        $lines[2].body.messages[-1].content | Should -BeLike '*task 4'
    }

    It 'takes pipeline rows and splits at -MaxRequestsPerFile' {
        $folder = New-TestFolder
        $files = @(1..7 | ForEach-Object { "task $_" } | Export-CodeGenBatch -OutFile (Join-Path $folder 'r.jsonl') -Model m -MaxRequestsPerFile 3)
        $files.Requests | Should -Be @(3, 3, 1)
        ($files.Path | Split-Path -Leaf) | Should -Be @('r.jsonl', 'r.2.jsonl', 'r.3.jsonl')
        $files[2].FirstRow | Should -Be 7
    }

    It 'refuses to replace a file without -Force, and says what model is missing' {
        $folder = New-TestFolder
        $out = Join-Path $folder 'r.jsonl'
        Set-Content -LiteralPath $out -Value 'keep me'
        { 'task 1' | Export-CodeGenBatch -OutFile $out -Model m -ErrorAction Stop } | Should -Throw -ErrorId 'OutputFileExists*'
        Get-Content -LiteralPath $out | Should -Be 'keep me'
        { 'task 1' | Export-CodeGenBatch -OutFile (Join-Path $folder 'x.jsonl') -ErrorAction Stop } | Should -Throw '*No model is configured*'
    }
}

Describe 'Invoke-CodeInstructionToCode -Batch' {
    BeforeEach { Reset-Server; Clear-CodeGenEndpoint }

    It 'runs a file through the batch API and writes the rows a live run writes' {
        $folder = New-TestFolder
        $inFile = New-Input $folder 6
        $live = Invoke-CodeInstructionToCode -Path $inFile -OutputPath (Join-Path $folder 'live.csv') @common
        $liveRequests = (Get-FakeLlmStats $server).requests

        $summary = Invoke-CodeInstructionToCode -Path $inFile -OutputPath (Join-Path $folder 'batch.csv') @common -Batch @fast
        $summary.Generated | Should -Be 6
        Get-Content -Raw (Join-Path $folder 'batch.csv') | Should -Be (Get-Content -Raw (Join-Path $folder 'live.csv'))
        $stats = Get-FakeLlmStats $server
        $stats.requests | Should -Be $liveRequests
        $stats.batchAnswered | Should -Be 6
        $stats.batchesCreated | Should -Be 1

        $job = Get-CodeGenBatch -OutputPath (Join-Path $folder 'batch.csv')
        $job.Status | Should -Be 'merged'
        $job.BatchIds.Count | Should -Be 1

        # a second run pays for nothing and says why
        { Invoke-CodeInstructionToCode -Path $inFile -OutputPath (Join-Path $folder 'batch.csv') @common -Batch @fast -ErrorAction Stop } |
            Should -Throw -ErrorId 'BatchAlreadyMerged*'
        (Get-FakeLlmStats $server).batchesCreated | Should -Be 1
    }

    It 'returns at once with -NoWait, polls the saved batch on the next run, and never uploads twice' {
        Reset-Server @{ batchPollsToComplete = 3 }
        $folder = New-TestFolder
        $inFile = New-Input $folder 5
        $output = Join-Path $folder 'out.jsonl'
        $job = Invoke-CodeInstructionToCode -Path $inFile -OutputPath $output @common -Batch -NoWait
        $job.Status | Should -Be 'in_progress'
        $job.Requests | Should -Be 5
        Test-Path -LiteralPath $output | Should -BeFalse

        (Get-CodeGenBatch -OutputPath $output @common).Parts[0].Status | Should -Be 'in_progress'
        (Get-CodeGenBatch -OutputPath $output -Offline).Parts[0].Status | Should -Be 'in_progress'
        $byId = Get-CodeGenBatch -Id $job.BatchIds[0] @common
        $byId.Total | Should -Be 5

        $summary = Invoke-CodeInstructionToCode -Path $inFile -OutputPath $output @common -Batch @fast
        $summary.Generated | Should -Be 5
        $stats = Get-FakeLlmStats $server
        $stats.filesUploaded | Should -Be 1
        $stats.batchesCreated | Should -Be 1
    }

    It 'Get-CodeGenBatch -OutputPath asks the job''s own endpoint, and says when only the key is missing' {
        Reset-Server @{ batchPollsToComplete = 2; requiredApiKey = 'sk-batch-status-key-1234' }
        Clear-CodeGenEndpoint
        $folder = New-TestFolder
        $inFile = New-Input $folder 3
        $output = Join-Path $folder 'out.csv'
        $null = Invoke-CodeInstructionToCode -Path $inFile -OutputPath $output @common -ApiKey 'sk-batch-status-key-1234' -Batch -NoWait

        # no endpoint configured anywhere: the job's own is used, and only the key is missing
        $saved = (Get-CodeGenBatch -OutputPath $output -Offline).Parts[0].Status
        $polls = (Get-FakeLlmStats $server).batchPolls
        $job = Get-CodeGenBatch -OutputPath $output -WarningVariable warned -WarningAction SilentlyContinue
        "$warned" | Should -BeLike '*asks for an API key and none is set*-ApiKey*'
        "$warned" | Should -Not -BeLike '*No LLM endpoint*'
        $job.Parts[0].Status | Should -Be $saved
        (Get-FakeLlmStats $server).batchPolls | Should -Be $polls

        # with the key, as the README writes it: the status comes from the provider
        $job = Get-CodeGenBatch -OutputPath $output -ApiKey 'sk-batch-status-key-1234' -WarningVariable warned
        $warned | Should -BeNullOrEmpty
        (Get-FakeLlmStats $server).batchPolls | Should -BeGreaterThan $polls
    }

    It 'cancels with Stop-CodeGenBatch, merges what ran, and a live -Resume fills the rest' {
        Reset-Server @{ batchPollsToComplete = 4 }
        $folder = New-TestFolder
        $inFile = New-Input $folder 8
        $output = Join-Path $folder 'out.csv'
        $null = Invoke-CodeInstructionToCode -Path $inFile -OutputPath $output @common -Batch -NoWait

        Stop-CodeGenBatch -OutputPath $output @common -WhatIf
        (Get-FakeLlmStats $server).batchCancels | Should -Be 0
        Stop-CodeGenBatch -OutputPath $output @common -Confirm:$false
        (Get-FakeLlmStats $server).batchCancels | Should -Be 1

        $summary = Invoke-CodeInstructionToCode -Path $inFile -OutputPath $output @common -Batch @fast -ErrorVariable errors -ErrorAction SilentlyContinue
        $summary.Generated | Should -Be 2
        $summary.Failed | Should -Be 6
        $errors.Count | Should -Be 6
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'BatchResultMissing*'
        $errors[0].Exception.Message | Should -BeLike '*was cancelled*'
        $errors[0].ErrorDetails.RecommendedAction | Should -BeLike '*-Resume*'
        (Import-Csv $output)[5].generated_code_error | Should -BeLike '*cancelled*'

        # a stop of a job with nothing left running says so, and asks the provider nothing
        Stop-CodeGenBatch -OutputPath $output @common -Confirm:$false -WarningVariable warned -WarningAction SilentlyContinue
        $warned | Should -HaveCount 1
        "$warned" | Should -BeLike '*has no running batch to cancel: it is already*'
        (Get-FakeLlmStats $server).batchCancels | Should -Be 1

        $before = (Get-FakeLlmStats $server).requests
        $resumed = Invoke-CodeInstructionToCode -Path $inFile -OutputPath $output @common -Resume
        $resumed.Generated | Should -Be 6
        ((Get-FakeLlmStats $server).requests - $before) | Should -Be 6
        @(Import-Csv $output | Where-Object generated_code -like '*Task: task*').Count | Should -Be 8
    }

    It 'stops with the provider''s reason when the batch fails' {
        Reset-Server @{ batchOutcome = 'failed' }
        $folder = New-TestFolder
        $inFile = New-Input $folder 2
        $err = { Invoke-CodeInstructionToCode -Path $inFile -OutputPath (Join-Path $folder 'o.csv') @common -Batch @fast -ErrorAction Stop } |
            Should -Throw -ErrorId 'BatchFailed*' -PassThru
        $err.Exception.Message | Should -BeLike '*BatchOutcome=failed*'
    }

    It 'drives Azure OpenAI batches with the api-key header, and keeps the key out of the saved job' {
        $folder = New-TestFolder
        $inFile = New-Input $folder 3
        $output = Join-Path $folder 'out.csv'
        $key = 'azure-secret-key-0123456789'
        $summary = Invoke-CodeInstructionToCode -Path $inFile -OutputPath $output -Provider AzureOpenAI -Endpoint $server.Root -Deployment 'gpt-4o-batch' -ApiKey $key -Batch @fast
        $summary.Generated | Should -Be 3
        $stats = Get-FakeLlmStats $server
        $stats.lastBatchPath | Should -BeLike '/openai/files/*/content?api-version=*'
        $stats.lastApiKey | Should -Be $key
        Get-ChildItem -LiteralPath "$output.batch" -Recurse -File | ForEach-Object { Get-Content -Raw -LiteralPath $_.FullName } |
            Where-Object { $_ -like "*$key*" } | Should -BeNullOrEmpty
        (Get-Content -LiteralPath "$output.batch/requests.jsonl" -TotalCount 1 | ConvertFrom-Json).url | Should -Be '/chat/completions'
    }
}

Describe 'Import-CodeGenBatchResult' {
    BeforeEach { Reset-Server }

    It 'merges result files made elsewhere (as vLLM run_batch writes them) into the rows, in input order' {
        $folder = New-TestFolder
        $inFile = New-Input $folder 5 { if ($_ -eq 4) { "task 4 [[fake:status=400;message=no such thing]]" } else { "task $_" } }
        # the batch run by the fake provider stands in for vLLM: its result files have the same lines
        $null = Invoke-CodeInstructionToCode -Path $inFile -OutputPath (Join-Path $folder 'first.csv') @common -Batch @fast -ErrorAction SilentlyContinue
        $results = @(Get-ChildItem -LiteralPath (Join-Path $folder 'first.csv.batch') -Filter '*.output.jsonl').FullName
        $errorFiles = @(Get-ChildItem -LiteralPath (Join-Path $folder 'first.csv.batch') -Filter '*.errors.jsonl').FullName
        $results.Count | Should -Be 1
        $errorFiles.Count | Should -Be 1

        $summary = Import-CodeGenBatchResult -Path $inFile -ResultPath $results -ErrorPath $errorFiles -OutputPath (Join-Path $folder 'merged.jsonl') -PassThru -ErrorVariable errors -ErrorAction SilentlyContinue
        # the module's types live in its own load context: match them by type name
        $rows = @($summary | Where-Object { $_.pstypenames -notcontains 'CodeGen.Core.Running.FileRunSummary' })
        $final = $summary | Where-Object { $_.pstypenames -contains 'CodeGen.Core.Running.FileRunSummary' }
        $final.Generated | Should -Be 4
        $final.Failed | Should -Be 1
        $rows.id | Should -Be @('1', '2', '3', '4', '5')
        $rows[0].generated_code | Should -Be (Get-FakeLlmCode $server 'task 1')
        $errors.Count | Should -Be 1
        $errors[0].Exception.Message | Should -BeLike '*answered 400*no such thing*'
        (Get-Content -LiteralPath (Join-Path $folder 'merged.jsonl') | ConvertFrom-Json)[3].generated_code_error | Should -BeLike '*no such thing*'

        # without the error file, row 4 is simply missing: an error that says so
        $null = Import-CodeGenBatchResult -Path $inFile -ResultPath $results -OutputPath (Join-Path $folder 'partial.csv') -ErrorVariable missing -ErrorAction SilentlyContinue
        $missing[0].FullyQualifiedErrorId | Should -BeLike 'BatchResultMissing*'
    }

    It 'names the file and line of a malformed result line' {
        $folder = New-TestFolder
        $inFile = New-Input $folder 1
        Set-Content -LiteralPath (Join-Path $folder 'bad.jsonl') -Value '{"custom_id": "row-1-00000000", "response": null}', 'not json'
        { Import-CodeGenBatchResult -Path $inFile -ResultPath (Join-Path $folder 'bad.jsonl') -OutputPath (Join-Path $folder 'o.csv') -ErrorAction Stop } |
            Should -Throw '*bad.jsonl, line 2*'
        Test-Path -LiteralPath (Join-Path $folder 'o.csv') | Should -BeFalse
    }
}
