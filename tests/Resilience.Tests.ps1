BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $server = Start-FakeLlm
    $common = @{ Endpoint = $server.BaseUrl; Model = 'fake-model' }

    function Reset-Server([hashtable] $Config = @{}) {
        Set-FakeLlmConfig $server $Config
        Reset-FakeLlm $server
    }
}

AfterAll {
    Clear-CodeGenEndpoint
    if ($server) { Stop-FakeLlm $server }
    Restore-EndpointEnvironment
}

Describe 'Retries and limits' {
    BeforeEach { Reset-Server; Clear-CodeGenEndpoint }

    It 'retries a transient failure and says so in the verbose line of the row' {
        $verbose = 'task 1 [[fake:status=503;times=2]]' | Invoke-CodeInstructionToCode @common -Verbose 4>&1 |
            Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message
        $verbose | Should -Contain ($verbose | Where-Object { $_ -like 'Row 1: answered in * ms on the wire (* ms more waiting for a free slot, the pace or a retry) after 3 attempts (retried for 503, 503)*' })
        ($verbose | Where-Object { $_ -like 'Row 1: answered*' }) | Should -Not -BeNullOrEmpty
        (Get-FakeLlmStats $server).requests | Should -Be 3
    }

    It 'tells the time on the wire from the wait for a free slot' {
        # one slot: row 2 cannot be sent before row 1 (300 ms on the server at least) is answered, so it waited at least that
        $verbose = 'task 1 [[fake:latency=300]]', 'task 2' | Invoke-CodeInstructionToCode @common -ThrottleLimit 1 -Verbose 4>&1 |
            Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message
        $first = @($verbose | Where-Object { $_ -match '^Row 1: answered in (\d+) ms on the wire \((\d+) ms more waiting' })
        $first | Should -HaveCount 1
        [int]$Matches[1] | Should -BeGreaterOrEqual 290 # the server's 300 ms (its timer may fire a little early)
        $second = @($verbose | Where-Object { $_ -match '^Row 2: answered in (\d+) ms on the wire \((\d+) ms more waiting' })
        $second | Should -HaveCount 1
        [int]$Matches[2] | Should -BeGreaterOrEqual 290 # row 1's time on the wire (rounding aside), spent waiting
    }

    It 'gives up after -MaxRetries and reports how many attempts were made' {
        $null = 'task 1 [[fake:status=503]]' | Invoke-CodeInstructionToCode @common -MaxRetries 1 -ErrorVariable errors -ErrorAction SilentlyContinue
        $errors[0].Exception.Message | Should -BeLike '*after 2 attempts; retried for 503*'
        (Get-FakeLlmStats $server).requests | Should -Be 2
    }

    It 'adds token columns with -IncludeUsage, in pipeline and file mode' {
        $row = 'task 1' | Invoke-CodeInstructionToCode @common -IncludeUsage
        $row.generated_code_total_tokens | Should -BeGreaterThan 0
        $row.generated_code_total_tokens | Should -Be ($row.generated_code_prompt_tokens + $row.generated_code_completion_tokens)

        $folder = New-TestFolder
        'task 1', 'task 2' | ForEach-Object { [pscustomobject]@{ instruction = $_ } } | Export-CodeGenData (Join-Path $folder 'in.jsonl')
        $summary = Invoke-CodeInstructionToCode -Path (Join-Path $folder 'in.jsonl') -OutputPath (Join-Path $folder 'out.csv') @common -IncludeUsage
        $rows = @(Import-Csv (Join-Path $folder 'out.csv'))
        ($rows[0].psobject.Properties.Name -join ',') | Should -Be 'instruction,generated_code,generated_code_error,generated_code_prompt_tokens,generated_code_completion_tokens,generated_code_total_tokens,generated_code_reasoning_tokens,generated_code_cached_tokens'
        ([long]$rows[0].generated_code_total_tokens + [long]$rows[1].generated_code_total_tokens) | Should -Be $summary.TotalTokens
    }

    It 'honours -ThrottleLimit from the session defaults' {
        Reset-Server @{ latencyMs = 50 }
        Set-CodeGenEndpoint -ThrottleLimit 3
        $null = 1..20 | ForEach-Object { "task $_" } | Invoke-CodeInstructionToCode @common
        (Get-FakeLlmStats $server).maxInFlight | Should -Be 3
    }
}

Describe 'Endpoints' {
    BeforeEach { Reset-Server; Clear-CodeGenEndpoint }

    It 'talks to Azure OpenAI deployments with the api-key header and an api-version' {
        $null = 'task 1' | Invoke-CodeInstructionToCode -Provider AzureOpenAI -Endpoint $server.Root -Deployment gpt4o -ApiKey 'azure-key-1234567890' -MaxRetries 0
        $stats = Get-FakeLlmStats $server
        $stats.lastPath | Should -Be '/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21'
        $stats.lastApiKey | Should -Be 'azure-key-1234567890'
        $stats.lastAuthorization | Should -BeNullOrEmpty
    }

    It 'uses the Azure OpenAI v1 API when there is no deployment' {
        $null = 'task 1' | Invoke-CodeInstructionToCode -Provider AzureOpenAI -Endpoint $server.Root -Model gpt-4o-mini -ApiKey 'azure-key-1234567890' -MaxRetries 0
        (Get-FakeLlmStats $server).lastPath | Should -Be '/openai/v1/chat/completions'
    }

    It 'sends extra headers given with -Header' {
        $null = 'task 1' | Invoke-CodeInstructionToCode @common -Header @{ 'X-Request-Source' = 'pester'; 'OpenAI-Project' = 'proj-9' }
        $headers = (Get-FakeLlmStats $server).lastCustomHeaders
        $headers.'X-Request-Source' | Should -Be 'pester'
        $headers.'OpenAI-Project' | Should -Be 'proj-9'
    }

    It 'goes through the proxy given with -Proxy' {
        # llm.invalid does not resolve: the answer can only come through the proxy (the fake server itself)
        $row = 'task 1' | Invoke-CodeInstructionToCode -Endpoint 'http://llm.invalid/v1' -Model m -Proxy $server.Root -MaxRetries 0
        $row.generated_code | Should -Be (Get-FakeLlmCode $server 'task 1')
    }

    It 'sends OPENAI_API_KEY to this machine but never to another host, and says so' {
        $env:OPENAI_API_KEY = 'sk-openai-key-1234567890'
        try {
            'task 1' | Invoke-CodeInstructionToCode @common | Out-Null
            (Get-FakeLlmStats $server).lastAuthorization | Should -Be 'Bearer sk-openai-key-1234567890'

            # llm.invalid is reached through the proxy (the fake server): the request arrives without the key
            Reset-Server
            $verbose = 'task 1' | Invoke-CodeInstructionToCode -Endpoint 'http://llm.invalid/v1' -Model m -Proxy $server.Root -MaxRetries 0 -Verbose 4>&1
            @($verbose | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] })[0].generated_code | Should -Be (Get-FakeLlmCode $server 'task 1')
            (Get-FakeLlmStats $server).lastAuthorization | Should -BeNullOrEmpty
            @($verbose | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message | Should -Contain (
                'OPENAI_API_KEY is not sent to llm.invalid: it goes only to api.openai.com and this machine. Pass -ApiKey or set CODEGEN_API_KEY to send a key there.')
            $info = Get-CodeGenEndpoint -Endpoint 'http://llm.invalid/v1' -Model m
            $info.ApiKey | Should -BeNullOrEmpty
            $info.ApiKeySource | Should -BeLike 'OPENAI_API_KEY is not sent to llm.invalid*'
            ($info | Out-String -Width 250) | Should -Match 'Auth\s+: \(none\)  \(OPENAI_API_KEY is not sent'
        }
        finally { $env:OPENAI_API_KEY = $null }
    }

    It 'refuses to send a key over plain http to another host' {
        $caught = $null
        try { 'task 1' | Invoke-CodeInstructionToCode -Endpoint 'http://gpu-box.example/v1' -Model m -ApiKey 'secret-1234567890' -ErrorAction Stop } catch { $caught = $_ }
        $caught.FullyQualifiedErrorId | Should -BeLike 'InvalidEndpointConfiguration,*'
        $caught.Exception.Message | Should -BeLike '*unencrypted http*'
        $caught.ErrorDetails.RecommendedAction | Should -BeLike '*-AllowUnencryptedAuthentication*'
        "$caught" | Should -Not -BeLike '*secret-1234567890*'
    }
}

Describe 'Session defaults' {
    BeforeEach { Reset-Server; Clear-CodeGenEndpoint }
    AfterEach { $env:CODEGEN_ENDPOINT = $null; $env:CODEGEN_MODEL = $null; $env:CODEGEN_API_KEY = $null; Clear-CodeGenEndpoint }

    It 'puts parameters before session defaults before CODEGEN_* variables' {
        $env:CODEGEN_ENDPOINT = "$($server.Root)/from-env/v1"
        $env:CODEGEN_MODEL = 'env-model'
        Set-CodeGenEndpoint -Endpoint "$($server.Root)/from-session/v1" -Model 'session-model' -MaxRetries 0
        Reset-Server @{ recordRequests = $true }

        $null = 'task 1' | Invoke-CodeInstructionToCode
        $stats = Get-FakeLlmStats $server
        $stats.lastPath | Should -Be '/from-session/v1/chat/completions'
        ($stats.requestBodies[-1] | ConvertFrom-Json).model | Should -Be 'session-model'

        $null = 'task 2' | Invoke-CodeInstructionToCode -Model 'param-model'
        $stats = Get-FakeLlmStats $server
        ($stats.requestBodies[-1] | ConvertFrom-Json).model | Should -Be 'param-model'
        $stats.lastPath | Should -Be '/from-session/v1/chat/completions'

        Clear-CodeGenEndpoint
        $null = 'task 3' | Invoke-CodeInstructionToCode
        (Get-FakeLlmStats $server).lastPath | Should -Be '/from-env/v1/chat/completions'
    }

    It 'shows the effective settings and their sources with Get-CodeGenEndpoint, the key masked' {
        $env:CODEGEN_API_KEY = 'sk-env-key-abcdefghij-9876'
        Set-CodeGenEndpoint -Endpoint $server.BaseUrl -Model 'session-model' -ThrottleLimit 7
        $info = Get-CodeGenEndpoint
        $info.Endpoint | Should -Be "$($server.BaseUrl)/chat/completions"
        $info.EndpointSource | Should -Be 'session defaults'
        $info.Model | Should -Be 'session-model'
        $info.ApiKey | Should -Be '****9876'
        $info.ApiKeySource | Should -Be 'CODEGEN_* environment variables'
        $info.ThrottleLimit | Should -Be 7
        ($info | Out-String) + ($info | ConvertTo-Json) | Should -Not -BeLike '*abcdefghij*'

        (Get-CodeGenEndpoint -Model 'other').ModelSource | Should -Be 'parameters'
    }

    It 'says what is missing when nothing is configured' {
        (Get-CodeGenEndpoint).Problem | Should -BeLike '*CODEGEN_ENDPOINT*'
    }

    It 'keeps a session key that Set-CodeGenEndpoint -PassThru shows only masked' {
        $shown = Set-CodeGenEndpoint -Endpoint $server.BaseUrl -Model m -ApiKey 'sk-session-key-0123456789' -PassThru
        $shown.ApiKey | Should -Be '****6789'
        $null = 'task 1' | Invoke-CodeInstructionToCode
        (Get-FakeLlmStats $server).lastAuthorization | Should -Be 'Bearer sk-session-key-0123456789'
    }
}

Describe 'The API key never leaks' {
    BeforeEach { Reset-Server; Clear-CodeGenEndpoint }

    It 'is in no stream, output object, progress record, error, file or setting, for failing and succeeding rows' {
        $key = 'sk-leak-Q7w9E2r4T6y8U0i1'
        $folder = New-TestFolder
        $in = Join-Path $folder 'in.jsonl'
        @('task ok 1', 'task bad [[fake:status=400;message=Invalid request from {auth}]]', 'task retried [[fake:status=503;times=1;message=busy {auth}]]', 'task ok 2',
            'task escaped [[fake:status=400;message=Escaped echo of {auth-escaped} here]]', 'task refusal [[fake:style=refusal-echo]]', 'task code [[fake:style=code-echo]]') |
            ForEach-Object { [pscustomobject]@{ instruction = $_ } } | Export-CodeGenData $in
        $parameters = @{ Endpoint = $server.BaseUrl; Model = 'm'; ApiKey = $key; ThrottleLimit = 1; Header = @{ 'X-Client' = 'pester' } }

        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript({
                    param($manifest, $in, $folder, $parameters)
                    Import-Module $manifest
                    $VerbosePreference = 'Continue'; $DebugPreference = 'Continue'; $InformationPreference = 'Continue'
                    Invoke-CodeInstructionToCode -Path $in -OutputPath (Join-Path $folder 'out.jsonl') @parameters -PassThru -IncludeUsage
                    Import-CodeGenData $in | Invoke-CodeInstructionToCode @parameters
                    Get-CodeGenEndpoint @parameters
                    Set-CodeGenEndpoint -ApiKey $parameters.ApiKey -PassThru
                    try { 'task fatal [[fake:status=401;message=Incorrect API key provided: {auth}]]' | Invoke-CodeInstructionToCode @parameters } catch { $_ }
                }).AddArgument((Join-Path $RepoRoot 'CodeGen.psd1')).AddArgument($in).AddArgument($folder).AddArgument($parameters)
            $output = $ps.Invoke()
            $streams = $ps.Streams
            $text = [System.Text.StringBuilder]::new()
            foreach ($item in $output) { $null = $text.AppendLine(($item | Out-String -Width 1000)).AppendLine(($item | ConvertTo-Json -Depth 6 -WarningAction SilentlyContinue)) }
            foreach ($record in @($streams.Error) + @($streams.Warning) + @($streams.Verbose) + @($streams.Debug) + @($streams.Information)) {
                $null = $text.AppendLine(($record | Out-String -Width 1000))
            }
            foreach ($record in $streams.Error) {
                $null = $text.AppendLine($record.Exception.ToString()).AppendLine("$($record.ErrorDetails)").AppendLine("$($record.TargetObject | ConvertTo-Json -Depth 4)")
            }
            foreach ($record in @($output | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] })) {
                $null = $text.AppendLine($record.Exception.ToString()).AppendLine("$($record.ErrorDetails)")
            }
            foreach ($record in $streams.Progress) { $null = $text.AppendLine("$($record.Activity) $($record.StatusDescription) $($record.CurrentOperation)") }
            Get-ChildItem -LiteralPath $folder -File | ForEach-Object { $null = $text.AppendLine((Get-Content -LiteralPath $_.FullName -Raw)) }
            $all = $text.ToString()

            $all | Should -Not -BeLike "*$key*"
            $all | Should -Not -BeLike '*Q7w9E2r4*'
            # and the search looked at real content: errors, retries, masks, the fatal stop
            $all | Should -BeLike '*Invalid request from `*`*`*`*U0i1*'
            $all | Should -BeLike '*Escaped echo of `*`*`*`*U0i1 here*'   # decoded first, then masked
            $all | Should -BeLike '*Your key `*`*`*`*U0i1 is noted*'       # a refusal that quotes the key
            $all | Should -BeLike '*API_KEY = "`*`*`*`*U0i1"*'              # code that quotes it
            $all | Should -BeLike '*retried for 503*'
            $all | Should -BeLike '*Stopped at row 1*401*'
            @($streams.Verbose).Count | Should -BeGreaterThan 3
            (Get-FakeLlmStats $server).lastAuthorization | Should -Be "Bearer $key"   # it did go where it belongs
        }
        finally { $ps.Dispose() }
    }
}
