BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $server = Start-FakeLlm
    $common = @{ Endpoint = $server.BaseUrl; Model = 'fake-model' }

    function Reset-Server([hashtable] $Config = @{}) {
        Set-FakeLlmConfig $server $Config
        Reset-FakeLlm $server
    }

    function Get-Bodies {
        @((Get-FakeLlmStats $server).requestBodies | ForEach-Object { $_ | ConvertFrom-Json })
    }

    # Everything a scriptblock leaves anywhere (output, every stream, error details, files in a folder), as text.
    function Get-AllText([scriptblock] $Script, [object[]] $Arguments, [string] $Folder) {
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript($Script)
            foreach ($argument in $Arguments) { $null = $ps.AddArgument($argument) }
            $output = $ps.Invoke()
            $text = [System.Text.StringBuilder]::new()
            foreach ($item in $output) { $null = $text.AppendLine(($item | Out-String -Width 1000)).AppendLine(($item | ConvertTo-Json -Depth 6 -WarningAction SilentlyContinue)) }
            $streams = $ps.Streams
            foreach ($record in @($streams.Error) + @($streams.Warning) + @($streams.Verbose) + @($streams.Debug) + @($streams.Information)) {
                $null = $text.AppendLine(($record | Out-String -Width 1000))
            }
            foreach ($record in @($streams.Error) + @($output | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] })) {
                $null = $text.AppendLine($record.Exception.ToString()).AppendLine("$($record.ErrorDetails)").AppendLine("$($record.ErrorDetails.RecommendedAction)")
            }
            foreach ($record in $streams.Progress) { $null = $text.AppendLine("$($record.Activity) $($record.StatusDescription)") }
            if ($Folder) { Get-ChildItem -LiteralPath $Folder -File -Recurse | ForEach-Object { $null = $text.AppendLine((Get-Content -LiteralPath $_.FullName -Raw)) } }
            [pscustomobject]@{ Text = $text.ToString(); Verbose = @($streams.Verbose).Count; Errors = @($streams.Error) }
        }
        finally { $ps.Dispose() }
    }
}

AfterAll {
    Clear-CodeGenEndpoint
    if ($server) { Stop-FakeLlm $server }
    Restore-EndpointEnvironment
}

Describe 'Reasoning models' {
    BeforeEach { Reset-Server @{ recordRequests = $true }; Clear-CodeGenEndpoint }

    It 'answers every row of gpt-5-mini with -MaxTokens and -Temperature, with one warning for each field the model refuses' {
        $tasks = 1..40 | ForEach-Object { [pscustomobject]@{ id = $_; instruction = "Write a function that returns $_ squared." } }
        $rows = @($tasks | Invoke-CodeInstructionToCode -Endpoint $server.BaseUrl -Model gpt-5-mini -MaxTokens 800 -Temperature 0.2 -ThrottleLimit 4 -MaxRetries 0 `
                -WarningVariable warnings -WarningAction SilentlyContinue -ErrorVariable failures -ErrorAction SilentlyContinue)
        $failures | Should -BeNullOrEmpty
        $rows.Count | Should -Be 40
        $rows | Where-Object { -not $_.generated_code } | Should -BeNullOrEmpty
        $rows[39].generated_code | Should -Be (Get-FakeLlmCode $server 'Write a function that returns 40 squared.')
        $warnings.Count | Should -Be 2
        @($warnings.Message -like "The server refused 'max_tokens' (*Use 'max_completion_tokens' instead.*): the rest of this run sends it as 'max_completion_tokens'*").Count | Should -Be 1
        @($warnings.Message -like "The server refused 'temperature' (*Only the default (1) value is supported.*): the rest of this run leaves it out*").Count | Should -Be 1
        $stats = Get-FakeLlmStats $server
        $stats.statusCounts.'400' | Should -BeLessOrEqual 8   # one wave (-ThrottleLimit 4) per refused field
        $stats.answered | Should -Be 40
        $last = (Get-Bodies)[-1]
        $last.max_completion_tokens | Should -Be 800
        $last.PSObject.Properties.Name | Should -Not -Contain 'temperature'
    }

    It 'sends -ReasoningEffort and -AdditionalBody in pipeline mode, in file mode and in batch lines' {
        $extra = @{ seed = 42; top_p = 0.5; stop = @('END'); chat_template_kwargs = @{ enable_thinking = $false }; metadata = [ordered]@{ run = 'nightly'; n = $null } }
        $null = 'task 1' | Invoke-CodeInstructionToCode @common -ReasoningEffort low -AdditionalBody $extra
        $folder = New-TestFolder
        'task 2', 'task 3' | ForEach-Object { [pscustomobject]@{ instruction = $_ } } | Export-CodeGenData (Join-Path $folder 'in.csv')
        $null = Invoke-CodeInstructionToCode -Path (Join-Path $folder 'in.csv') -OutputPath (Join-Path $folder 'out.csv') @common -ReasoningEffort low -AdditionalBody $extra
        $files = Export-CodeGenBatch -Path (Join-Path $folder 'in.csv') -OutFile (Join-Path $folder 'requests.jsonl') -Model gpt-5-mini -ReasoningEffort low -AdditionalBody $extra
        $lines = @(Get-Content -LiteralPath $files[0].Path | ForEach-Object { ($_ | ConvertFrom-Json).body })

        $bodies = @(Get-Bodies) + $lines
        $bodies.Count | Should -Be 5
        foreach ($body in $bodies) {
            $body.reasoning_effort | Should -Be 'low'
            $body.seed | Should -Be 42
            $body.seed | Should -BeOfType [long]
            $body.top_p | Should -Be 0.5
            $body.stop | Should -Be 'END'
            $body.chat_template_kwargs.enable_thinking | Should -BeFalse
            $body.chat_template_kwargs.enable_thinking | Should -BeOfType [bool]
            $body.metadata.run | Should -Be 'nightly'
            $body.metadata.PSObject.Properties.Name | Should -Contain 'n'
        }
        # the same fields in any order write the same bytes: a response cache keeps hitting
        $json = (Get-FakeLlmStats $server).requestBodies
        $json[0].EndsWith('"reasoning_effort":"low","chat_template_kwargs":{"enable_thinking":false},"metadata":{"run":"nightly","n":null},"seed":42,"stop":["END"],"top_p":0.5}') |
            Should -BeTrue -Because $json[0]
    }

    It 'sends them in the request lines of a -Batch job too' {
        $folder = New-TestFolder
        'task 1', 'task 2' | ForEach-Object { [pscustomobject]@{ instruction = $_ } } | Export-CodeGenData (Join-Path $folder 'in.csv')
        $output = Join-Path $folder 'out.csv'
        $summary = Invoke-CodeInstructionToCode -Path (Join-Path $folder 'in.csv') -OutputPath $output @common -Batch -PollIntervalSec 0.05 `
            -ReasoningEffort high -AdditionalBody @{ seed = 5 }
        $summary.Generated | Should -Be 2
        $bodies = @(Get-Content -LiteralPath "$output.batch/requests.jsonl" | ForEach-Object { ($_ | ConvertFrom-Json).body })
        $bodies.Count | Should -Be 2
        $bodies.reasoning_effort | Should -Be @('high', 'high')
        $bodies.seed | Should -Be @(5, 5)
    }

    It 'refuses an -AdditionalBody field CodeGen sets itself, or one a parameter sets too, before any request' {
        { 'task 1' | Invoke-CodeInstructionToCode @common -AdditionalBody @{ model = 'other' } } |
            Should -Throw -ErrorId 'InvalidAdditionalBody,*' -ExpectedMessage "*cannot set 'model'*"
        { 'task 1' | Invoke-CodeInstructionToCode @common -Temperature 0.2 -AdditionalBody @{ temperature = 1 } } |
            Should -Throw -ErrorId 'InvalidAdditionalBody,*' -ExpectedMessage "*'temperature'*a parameter*"
        { 'task 1' | Invoke-CodeInstructionToCode @common -AdditionalBody @{ key = (ConvertTo-SecureString 'x' -AsPlainText -Force) } } |
            Should -Throw -ErrorId 'InvalidAdditionalBody,*' -ExpectedMessage "*'key' is a secret*"
        { Export-CodeGenBatch -InputObject 'task 1' -OutFile (Join-Path (New-TestFolder) 'r.jsonl') -Model m -AdditionalBody @{ stream = $true } } |
            Should -Throw -ErrorId 'InvalidAdditionalBody,*'
        (Get-FakeLlmStats $server).requests | Should -Be 0
    }

    It 'keeps -AdditionalBody as a session default that a command adds to, field by field' {
        Set-CodeGenEndpoint -Endpoint $server.BaseUrl -Model fake-model -AdditionalBody @{ seed = 1; top_p = 0.9 }
        (Get-CodeGenEndpoint).AdditionalBody | Should -Be '{"seed":1,"top_p":0.9}'
        $null = 'task 1' | Invoke-CodeInstructionToCode -AdditionalBody @{ seed = 7 }
        $body = (Get-Bodies)[-1]
        $body.seed | Should -Be 7
        $body.top_p | Should -Be 0.9
        Set-CodeGenEndpoint -AdditionalBody $null
        (Get-CodeGenEndpoint).AdditionalBody | Should -BeNullOrEmpty
    }

    It 'adds the reasoning and cached token counts with -IncludeUsage' {
        $row = 'task 1' | Invoke-CodeInstructionToCode -Endpoint $server.BaseUrl -Model o4-mini -IncludeUsage
        $row.generated_code_reasoning_tokens | Should -Be 64
        $row.generated_code_cached_tokens | Should -Be 0
        $row.generated_code_completion_tokens | Should -BeGreaterThan 64
        $verbose = 'task 2' | Invoke-CodeInstructionToCode -Endpoint $server.BaseUrl -Model o4-mini -Verbose 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        $verbose.Message | Should -Contain ($verbose.Message | Where-Object { $_ -like '*completion of which 64 reasoning)*' })
    }
}

Describe 'Rate limits announced by the server' {
    BeforeEach { Clear-CodeGenEndpoint }

    It 'keeps to x-ratelimit-* without -RequestsPerMinute, and says so with -Verbose' {
        Reset-Server @{ rateLimitRequestsPerMinute = 3000; latencyMs = 100 }
        $verbose = 1..200 | ForEach-Object { "task $_" } | Invoke-CodeInstructionToCode @common -ThrottleLimit 64 -Verbose 4>&1 |
            Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        $stats = Get-FakeLlmStats $server
        $stats.answered | Should -Be 200
        $stats.rateLimited | Should -BeLessOrEqual 10
        ($verbose.Message | Where-Object { $_ -like '*Paced to the server''s announced 3000 requests a minute*' }) | Should -Not -BeNullOrEmpty
    }
}

Describe 'Tokens and Microsoft Entra ID' {
    BeforeAll {
        $env:IDENTITY_ENDPOINT = "$($server.Root)/msi/token"
        $env:IDENTITY_HEADER = 'fake-identity-header'
        $azure = @{ Provider = 'AzureOpenAI'; Endpoint = $server.Root; Deployment = 'gpt4o'; MaxRetries = 0 }
    }
    AfterAll { $env:IDENTITY_ENDPOINT = $null; $env:IDENTITY_HEADER = $null }
    BeforeEach { Reset-Server @{ requireEntraToken = $true; tokenLifetimeSeconds = 240 }; Clear-CodeGenEndpoint }

    It 'signs in to Azure OpenAI with -EntraId, and Get-CodeGenEndpoint shows how' {
        $rows = @('task 1', 'task 2' | Invoke-CodeInstructionToCode @azure -EntraId)
        $rows.generated_code | Should -Be @((Get-FakeLlmCode $server 'task 1'), (Get-FakeLlmCode $server 'task 2'))
        (Get-FakeLlmStats $server).lastAuthorization | Should -BeLike 'Bearer fake-entra-*'
        $info = Get-CodeGenEndpoint @azure -EntraId
        $info.Authentication | Should -Be 'Microsoft Entra ID (DefaultAzureCredential, scope https://cognitiveservices.azure.com/.default)'
        ($info | Out-String -Width 300) | Should -Match 'Auth\s+: Microsoft Entra ID .*\(parameters\)'
    }

    It 'keeps Entra ID as a session default, and -ApiKey replaces it' {
        Set-CodeGenEndpoint @azure -EntraId
        $null = 'task 1' | Invoke-CodeInstructionToCode
        (Get-FakeLlmStats $server).lastAuthorization | Should -BeLike 'Bearer fake-entra-*'
        (Set-CodeGenEndpoint -ApiKey 'azure-key-0123456789' -PassThru).Authentication | Should -Be 'API key ****6789 (api-key header)'
        Reset-Server
        $null = 'task 2' | Invoke-CodeInstructionToCode
        (Get-FakeLlmStats $server).lastApiKey | Should -Be 'azure-key-0123456789'
        (Get-FakeLlmStats $server).lastAuthorization | Should -BeNullOrEmpty
    }

    It 'refuses -EntraId for a provider other than Azure OpenAI, and two ways to sign in at once' {
        { 'task 1' | Invoke-CodeInstructionToCode @common -EntraId } | Should -Throw -ErrorId 'InvalidEndpointConfiguration,*' -ExpectedMessage '*Azure OpenAI*'
        { 'task 1' | Invoke-CodeInstructionToCode @common -ApiKey 'k-0123456789' -Token 't-0123456789' } | Should -Throw -ErrorId 'InvalidEndpointConfiguration,*' -ExpectedMessage '*more than one way to sign in*'
        { Set-CodeGenEndpoint -ApiKey 'k-0123456789' -EntraId } | Should -Throw -ErrorId 'ConflictingCredentials,*'
    }

    It 'keeps Entra ID tokens and -Token out of every stream, output, error and file' {
        Reset-Server @{ tokenLifetimeSeconds = 240 }   # any bearer is taken: the -Token runs get answers too
        $folder = New-TestFolder
        $in = Join-Path $folder 'in.jsonl'
        @('task ok 1', 'task bad [[fake:status=400;message=Bad request from Bearer {auth}]]', 'task ok 2') |
            ForEach-Object { [pscustomobject]@{ instruction = $_ } } | Export-CodeGenData $in
        $userToken = 'user-token-Z8x6C4v2B0n9M7'
        $result = Get-AllText -Folder $folder -Arguments (Join-Path $RepoRoot 'CodeGen.psd1'), $in, $folder, $azure, $userToken -Script {
            param($manifest, $in, $folder, $azure, $userToken)
            Import-Module $manifest
            $VerbosePreference = 'Continue'; $DebugPreference = 'Continue'; $InformationPreference = 'Continue'
            Invoke-CodeInstructionToCode -Path $in -OutputPath (Join-Path $folder 'out.jsonl') @azure -EntraId -PassThru -IncludeUsage -ThrottleLimit 1
            Import-CodeGenData $in | Invoke-CodeInstructionToCode @azure -EntraId
            Get-CodeGenEndpoint @azure -EntraId
            Set-CodeGenEndpoint -Token $userToken -PassThru
            Get-CodeGenEndpoint @azure -Token $userToken
            Import-CodeGenData $in | Invoke-CodeInstructionToCode @azure -Token $userToken
            try { 'task fatal [[fake:status=401;message=Token {auth} has expired]]' | Invoke-CodeInstructionToCode @azure -Token $userToken } catch { $_ }
        }
        $issued = (Get-FakeLlmStats $server).lastAuthorization
        $result.Text | Should -Not -BeLike "*$userToken*"
        $result.Text | Should -Not -BeLike '*Z8x6C4v2*'
        $result.Text | Should -Not -Match 'fake-entra-\d+-[0-9a-f]{6}'
        # and the search looked at real content: the masked echo, the fatal stop, the auth shown masked
        $result.Text | Should -BeLike '*Bad request from Bearer `*`*`*`**'
        $result.Text | Should -BeLike '*bearer token `*`*`*`*n9M7*'
        $result.Text | Should -BeLike '*Stopped at row 1*401*'
        $result.Verbose | Should -BeGreaterThan 3
        $issued | Should -Be "Bearer $userToken"   # it did go where it belongs
    }
}
