BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $server = Start-FakeLlm
    $claudeKey = 'sk-ant-api03-pester-Q7w5E3r1T9y8'
    $claude = @{ Endpoint = $server.BaseUrl; Provider = 'Anthropic'; Model = 'claude-sonnet-4-5'; ApiKey = $claudeKey }

    function Reset-Server([hashtable] $Config = @{}) {
        Set-FakeLlmConfig $server $Config
        Reset-FakeLlm $server
    }

    function Get-Bodies {
        @((Get-FakeLlmStats $server).requestBodies | ForEach-Object { $_ | ConvertFrom-Json })
    }

    function New-Tasks([string] $Folder, [int] $Count, [string] $Name = 'in.csv') {
        $path = Join-Path $Folder $Name
        1..$Count | ForEach-Object { [pscustomobject]@{ id = $_; instruction = "task $_" } } | Export-CodeGenData $path
        $path
    }
}

AfterAll {
    Clear-CodeGenEndpoint
    if ($server) { Stop-FakeLlm $server }
    Restore-EndpointEnvironment
}

Describe 'OpenAI Responses API' {
    BeforeEach { Reset-Server @{ recordRequests = $true; latencyMs = 10 }; Clear-CodeGenEndpoint }

    It 'answers a codex model with no setting: one warning, then the Responses API for the rest of the run' {
        $rows = @(1..12 | ForEach-Object { "task $_" } | Invoke-CodeInstructionToCode -Endpoint $server.BaseUrl -Model gpt-5.1-codex -ThrottleLimit 3 `
                -WarningVariable warnings -WarningAction SilentlyContinue -ErrorVariable failures -ErrorAction SilentlyContinue)
        $failures | Should -BeNullOrEmpty
        $rows.Count | Should -Be 12
        $rows[11].generated_code | Should -Be (Get-FakeLlmCode $server 'task 12')
        $warnings.Count | Should -Be 1
        $warnings[0].Message | Should -BeLike "The model 'gpt-5.1-codex' is served only by the Responses API: the rest of this run sends its requests to */v1/responses, and the refused rows are sent again."
        $stats = Get-FakeLlmStats $server
        $stats.apiRequests.responses | Should -Be 12
        $stats.statusCounts.'400' | Should -BeLessOrEqual 3
        (Get-Bodies)[-1].store | Should -BeFalse
    }

    It 'stops a codex model on chat completions chosen with -Api at its first row, saying to pass -Api Responses' {
        $err = $null
        try { 1..20 | ForEach-Object { "task $_" } | Invoke-CodeInstructionToCode -Endpoint $server.BaseUrl -Model gpt-5-codex -Api ChatCompletions -ThrottleLimit 2 } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'LlmHttpError,*'
        "$err" | Should -BeLike '*only supported in v1/responses*'
        $err.ErrorDetails.RecommendedAction | Should -BeLike '*-Api Responses*'
        (Get-FakeLlmStats $server).apiRequests.responses | Should -BeNullOrEmpty
    }

    It 'speaks the Responses API from the first request with -Api, held by Set-CodeGenEndpoint and shown by Get-CodeGenEndpoint' {
        $info = Set-CodeGenEndpoint -Endpoint $server.BaseUrl -Model gpt-5.1-codex-mini -Api Responses -PassThru
        $info.Api | Should -Be 'Responses'
        $info.ApiSource | Should -Be 'session defaults'
        $info.Endpoint | Should -BeLike '*/v1/responses'
        ($info | Out-String -Width 300) | Should -Match 'Api\s+: Responses  \(session defaults\)'
        $rows = @('task 1', 'task 2' | Invoke-CodeInstructionToCode -MaxTokens 500 -ReasoningEffort medium -SystemPrompt 'Write Python.')
        $rows.generated_code | Should -Be @((Get-FakeLlmCode $server 'task 1'), (Get-FakeLlmCode $server 'task 2'))
        $stats = Get-FakeLlmStats $server
        ($stats.statusCounts.'400' -as [int]) | Should -Be 0
        $body = (Get-Bodies)[-1]
        $body.instructions | Should -Be 'Write Python.'
        $body.max_output_tokens | Should -Be 500
        $body.reasoning.effort | Should -Be 'medium'
        $body.PSObject.Properties.Name | Should -Not -Contain 'messages'
        (Get-CodeGenEndpoint -Api ChatCompletions).Endpoint | Should -BeLike '*/v1/chat/completions'
    }

    It 'keeps the API in the response cache key: a replay finds what the same API recorded, and only that' {
        $cache = Join-Path (New-TestFolder) 'cache'
        $common = @{ Endpoint = $server.BaseUrl; Model = 'gpt-5.1'; CachePath = $cache }
        $null = 'task 1' | Invoke-CodeInstructionToCode @common -Api Responses
        Reset-Server
        $replay = 'task 1' | Invoke-CodeInstructionToCode @common -Api Responses -CacheMode ReadOnly
        $replay.generated_code | Should -Be (Get-FakeLlmCode $server 'task 1')
        $miss = 'task 1' | Invoke-CodeInstructionToCode @common -CacheMode ReadOnly -ErrorVariable missed -ErrorAction SilentlyContinue
        $missed[0].FullyQualifiedErrorId | Should -BeLike 'CacheMiss,*'
        (Get-FakeLlmStats $server).requests | Should -Be 0
    }

    It 'runs a -Batch job and exports batch lines for /v1/responses' {
        $folder = New-TestFolder
        $in = New-Tasks $folder 3
        $summary = Invoke-CodeInstructionToCode -Path $in -OutputPath (Join-Path $folder 'out.csv') -Endpoint $server.BaseUrl -Model gpt-5.1-codex -Api Responses -Batch -PollIntervalSec 0.05
        $summary.Generated | Should -Be 3
        (Get-Content -LiteralPath (Join-Path $folder 'out.csv.batch/requests.jsonl') -TotalCount 1 | ConvertFrom-Json).url | Should -Be '/v1/responses'
        # without an endpoint (OpenAI's own), a codex model's lines are for /v1/responses by its name: no answer can say so before
        $files = Export-CodeGenBatch -Path $in -OutFile (Join-Path $folder 'export.jsonl') -Model gpt-5.1-codex
        $line = Get-Content -LiteralPath $files[0].Path -TotalCount 1 | ConvertFrom-Json
        $line.url | Should -Be '/v1/responses'
        $line.body.input[0].role | Should -Be 'user'
    }
}

Describe 'Anthropic Messages API' {
    BeforeEach { Reset-Server @{ recordRequests = $true; requiredApiKey = $claudeKey }; Clear-CodeGenEndpoint }

    It 'answers with -Provider Anthropic in pipeline and file mode, with its version header and Bearer key' {
        $rows = @('task 1', 'task 2' | Invoke-CodeInstructionToCode @claude -SystemPrompt 'Write Python.' -IncludeUsage)
        $rows.generated_code | Should -Be @((Get-FakeLlmCode $server 'task 1'), (Get-FakeLlmCode $server 'task 2'))
        $rows[0].generated_code_prompt_tokens | Should -BeGreaterThan 0
        $stats = Get-FakeLlmStats $server
        $stats.apiRequests.messages | Should -Be 2
        $stats.lastAuthorization | Should -Be "Bearer $claudeKey"
        $stats.lastCustomHeaders.'anthropic-version' | Should -Be '2026-10-21'
        $body = (Get-Bodies)[-1]
        $body.system | Should -Be 'Write Python.'
        $body.max_tokens | Should -Be 8192
        $folder = New-TestFolder
        $summary = Invoke-CodeInstructionToCode -Path (New-Tasks $folder 4) -OutputPath (Join-Path $folder 'out.jsonl') @claude
        $summary.Generated | Should -Be 4
    }

    It 'shows the provider, the API, its version and how the key is sent' {
        $info = Get-CodeGenEndpoint @claude
        $info.Provider | Should -Be 'Anthropic'
        $info.Api | Should -Be 'Messages'
        $info.ApiVersion | Should -Be '2026-10-21'
        $info.Authentication | Should -Be 'API key ****T9y8 (Authorization: Bearer)'
        (Get-CodeGenEndpoint @claude -ApiVersion 2023-06-01).Authentication | Should -Be 'API key ****T9y8 (x-api-key header)'
        $default = Get-CodeGenEndpoint -Provider Anthropic -Model claude-haiku-4-5
        $default.Endpoint | Should -Be 'https://api.anthropic.com/v1/messages'
    }

    It 'takes ANTHROPIC_API_KEY for Anthropic only' {
        $env:ANTHROPIC_API_KEY = $claudeKey
        try {
            $row = 'task 1' | Invoke-CodeInstructionToCode -Endpoint $server.BaseUrl -Provider Anthropic -Model claude-sonnet-4-5
            $row.generated_code | Should -Be (Get-FakeLlmCode $server 'task 1')
            (Get-CodeGenEndpoint -Endpoint $server.BaseUrl -Provider Anthropic -Model m).ApiKeySource | Should -Be 'ANTHROPIC_* environment variables'
            (Get-CodeGenEndpoint -Endpoint $server.BaseUrl -Model m).ApiKey | Should -BeNullOrEmpty
        }
        finally { $env:ANTHROPIC_API_KEY = $null }
    }

    It 'refuses what the API in use cannot take before any request, saying what to do' {
        { 'task 1' | Invoke-CodeInstructionToCode @claude -Temperature 0.2 } | Should -Throw -ErrorId 'InvalidRequestParameters,*' -ExpectedMessage '*2026-10-21*temperature*'
        { 'task 1' | Invoke-CodeInstructionToCode @claude -AdditionalBody @{ max_tokens = 10 } } | Should -Throw -ErrorId 'InvalidAdditionalBody,*' -ExpectedMessage "*'max_tokens'*"
        { 'task 1' | Invoke-CodeInstructionToCode @claude -AdditionalBody @{ System = 'x' } } | Should -Throw -ErrorId 'InvalidAdditionalBody,*' -ExpectedMessage "*'System'*"
        $err = $null
        try { 'task 1' | Invoke-CodeInstructionToCode @claude -Api Responses } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'InvalidEndpointConfiguration,*'
        $err.ErrorDetails.RecommendedAction | Should -BeLike '*-Api Messages*'
        (Get-FakeLlmStats $server).requests | Should -Be 0
        # the long-standing version takes a temperature, 0 to 1
        $row = 'task 1' | Invoke-CodeInstructionToCode @claude -ApiVersion 2023-06-01 -Temperature 0.2
        $row.generated_code | Should -Be (Get-FakeLlmCode $server 'task 1')
        (Get-FakeLlmStats $server).lastXApiKey | Should -Be $claudeKey
    }

    It 'repairs code in the Messages shape: the conversation alternates user and assistant, the system prompt on top' {
        $row = 'task 1 [[fake:style=unparsable]]' | Invoke-CodeInstructionToCode @claude -Language python -MaxRepairs 1 -SystemPrompt 'Write Python.'
        $row.generated_code_check | Should -Be 'ok'
        $last = (Get-Bodies)[-1]
        $last.messages.role | Should -Be @('user', 'assistant', 'user')
        $last.system | Should -Be 'Write Python.'
    }

    It 'resumes a file run from its journal on the Messages API' {
        $folder = New-TestFolder
        $in = New-Tasks $folder 6
        $out = Join-Path $folder 'out.csv'
        $null = Invoke-CodeInstructionToCode -Path $in -OutputPath $out @claude
        Reset-Server @{ requiredApiKey = $claudeKey }
        $summary = Invoke-CodeInstructionToCode -Path $in -OutputPath $out @claude -Resume
        $summary.SkippedByResume | Should -Be 6
        (Get-FakeLlmStats $server).requests | Should -Be 0
    }

    It 'keeps the key out of every stream, output, error and file, also when the server echoes it' {
        $folder = New-TestFolder
        $in = Join-Path $folder 'in.jsonl'
        @('task ok', 'task bad [[fake:status=400;message=bad request for x-api-key {auth}]]') | ForEach-Object { [pscustomobject]@{ instruction = $_ } } | Export-CodeGenData $in
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript({
                    param($manifest, $in, $folder, $claude)
                    Import-Module $manifest
                    $VerbosePreference = 'Continue'
                    Invoke-CodeInstructionToCode -Path $in -OutputPath (Join-Path $folder 'out.jsonl') @claude -ApiVersion 2023-06-01 -PassThru
                    Get-CodeGenEndpoint @claude
                    try { 'task fatal [[fake:status=401;message=invalid x-api-key {auth}]]' | Invoke-CodeInstructionToCode @claude -ApiVersion 2023-06-01 } catch { $_; $_.ErrorDetails.RecommendedAction }
                }).AddArgument((Join-Path $RepoRoot 'CodeGen.psd1')).AddArgument($in).AddArgument($folder).AddArgument($claude)
            $output = $ps.Invoke()
            $text = ($output | Out-String -Width 1000) + ($ps.Streams.Error + $ps.Streams.Warning + $ps.Streams.Verbose | Out-String -Width 1000) +
                (Get-ChildItem -LiteralPath $folder -File -Recurse | ForEach-Object { Get-Content -LiteralPath $_.FullName -Raw } | Out-String)
        }
        finally { $ps.Dispose() }
        $text | Should -Not -BeLike "*$claudeKey*"
        $text | Should -Not -BeLike '*Q7w5E3r1*'
        $text | Should -BeLike '*bad request for x-api-key `*`*`*`**'
        $text | Should -BeLike '*ANTHROPIC_API_KEY*'   # the advice for a rejected key names Anthropic's variable
        (Get-FakeLlmStats $server).lastXApiKey | Should -Be $claudeKey
    }
}

Describe 'Anthropic Message Batches' {
    BeforeEach { Reset-Server @{ requiredApiKey = $claudeKey; batchPollsToComplete = 2 }; Clear-CodeGenEndpoint }

    It 'runs a file as a Message Batch, and Get-CodeGenBatch finds it by its output alone' {
        $folder = New-TestFolder
        $in = New-Tasks $folder 5
        $out = Join-Path $folder 'out.csv'
        $state = Invoke-CodeInstructionToCode -Path $in -OutputPath $out @claude -Batch -NoWait
        $state.Api | Should -Be 'Messages'
        $state.Parts[0].BatchId | Should -BeLike 'msgbatch_*'
        Set-CodeGenEndpoint -ApiKey $claudeKey -Provider Anthropic -Endpoint $server.BaseUrl
        $seen = Get-CodeGenBatch -OutputPath $out   # the job's model and API: no -Model needed
        $seen.Parts[0].BatchId | Should -Be $state.Parts[0].BatchId
        $summary = Invoke-CodeInstructionToCode -Path $in -OutputPath $out @claude -Batch -PollIntervalSec 0.05
        $summary.Generated | Should -Be 5
        (Get-FakeLlmStats $server).batchesCreated | Should -Be 1
    }

    It 'cancels a Message Batch with Stop-CodeGenBatch, and the merge keeps what it ran' {
        Reset-Server @{ requiredApiKey = $claudeKey; batchPollsToComplete = 50 }
        $folder = New-TestFolder
        $in = New-Tasks $folder 6
        $out = Join-Path $folder 'out.csv'
        $null = Invoke-CodeInstructionToCode -Path $in -OutputPath $out @claude -Batch -NoWait
        Set-CodeGenEndpoint -ApiKey $claudeKey -Provider Anthropic -Endpoint $server.BaseUrl
        $stopped = Stop-CodeGenBatch -OutputPath $out -PassThru -Confirm:$false
        $stopped.Parts[0].Status | Should -Be 'cancelling'
        (Get-FakeLlmStats $server).batchCancels | Should -Be 1
        $summary = Invoke-CodeInstructionToCode -Path $in -OutputPath $out @claude -Batch -PollIntervalSec 0.05 -ErrorAction SilentlyContinue -ErrorVariable missing
        $summary.Generated + $summary.Failed | Should -Be 6
        $summary.Failed | Should -BeGreaterThan 0
        $missing[0].FullyQualifiedErrorId | Should -BeLike 'BatchResultMissing,*'
        "$($missing[0])" | Should -BeLike '*canceled before it ran this request*'
    }

    It 'exports Message Batch requests and merges their results with Import-CodeGenBatchResult' {
        $folder = New-TestFolder
        $in = New-Tasks $folder 3
        $files = Export-CodeGenBatch -Path $in -OutFile (Join-Path $folder 'requests.jsonl') -Provider Anthropic -Model claude-sonnet-4-5
        $line = Get-Content -LiteralPath $files[0].Path -TotalCount 1 | ConvertFrom-Json
        $line.PSObject.Properties.Name | Should -Be @('custom_id', 'params')
        $line.params.max_tokens | Should -Be 8192
        # the results a Message Batch gives, from a batch job of the same rows
        $out = Join-Path $folder 'batch.csv'
        $null = Invoke-CodeInstructionToCode -Path $in -OutputPath $out @claude -Batch -PollIntervalSec 0.05
        $results = Get-ChildItem -LiteralPath "$out.batch" -Filter '*.output.jsonl'
        $summary = Import-CodeGenBatchResult -Path $in -ResultPath $results.FullName -OutputPath (Join-Path $folder 'merged.csv')
        $summary.Generated | Should -Be 3
        (Import-Csv (Join-Path $folder 'merged.csv'))[2].generated_code | Should -Be (Get-FakeLlmCode $server 'task 3')
    }
}
