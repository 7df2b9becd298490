BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $server = Start-FakeLlm
    # Retries have their own tests (Resilience.Tests.ps1): here a failure should fail at once.
    $common = @{ Endpoint = $server.BaseUrl; Model = 'fake-model'; MaxRetries = 0 }

    function Reset-Server([hashtable] $Config = @{}) {
        Set-FakeLlmConfig $server $Config
        Reset-FakeLlm $server
    }
}

AfterAll {
    if ($server) { Stop-FakeLlm $server }
    Restore-EndpointEnvironment
}

Describe 'The module' {
    It 'lists the cmdlet after Import-Module ./CodeGen.psd1' {
        (Get-Command -Module CodeGen).Name | Should -Contain 'Invoke-CodeInstructionToCode'
    }

    It 'has the parameters of its contract' {
        $parameters = (Get-Command Invoke-CodeInstructionToCode).Parameters.Keys
        foreach ($name in 'InputObject', 'Instruction', 'InputKey', 'OutputKey', 'Force', 'PromptTemplate', 'SystemPrompt', 'Language',
            'Endpoint', 'Model', 'ApiKey', 'Temperature', 'MaxTokens', 'ThrottleLimit', 'Raw', 'WhatIf', 'Confirm') {
            $parameters | Should -Contain $name
        }
        (Get-Command Invoke-CodeInstructionToCode).Parameters.ApiKey.ParameterType | Should -Be ([securestring])
    }
}

Describe 'Rows through the pipeline' {
    BeforeEach { Reset-Server }

    It 'round-trips Import-Csv | Invoke-CodeInstructionToCode | Export-Csv with multi-line, quoted and non-ASCII fields' {
        $folder = New-TestFolder
        $in = Join-Path $folder 'in.csv'
        $out = Join-Path $folder 'out.csv'
        $rows = @(
            [pscustomobject]@{ id = '1'; note = 'plain'; instruction = 'Write a function that adds two numbers' }
            [pscustomobject]@{ id = '2'; note = 'comma, and "quotes"'; instruction = "Parse a line like `"a,b`",c`nand keep the quotes" }
            [pscustomobject]@{ id = '3'; note = "multi`nline`r`nnote"; instruction = 'Écris une fonction qui trie des chaînes accentuées' }
            [pscustomobject]@{ id = '4'; note = '日本語 🚀'; instruction = '日本語の文字数を数える関数を書いてください' }
        )
        $rows | Export-Csv -LiteralPath $in -Encoding utf8
        Import-Csv -LiteralPath $in | Invoke-CodeInstructionToCode @common -ThrottleLimit 4 | Export-Csv -LiteralPath $out -Encoding utf8

        $back = @(Import-Csv -LiteralPath $out)
        $back.Count | Should -Be 4
        ($back[0].psobject.Properties.Name -join ',') | Should -Be 'id,note,instruction,generated_code,generated_code_error'
        for ($i = 0; $i -lt 4; $i++) {
            $back[$i].id | Should -Be $rows[$i].id
            $back[$i].note | Should -Be $rows[$i].note
            $back[$i].instruction | Should -Be $rows[$i].instruction
            $back[$i].generated_code | Should -Be (Get-FakeLlmCode $server $rows[$i].instruction)
        }
    }

    It 'takes strings as the instruction itself' {
        $result = @('Reverse a string', 'Sum a list' | Invoke-CodeInstructionToCode @common)
        $result.Count | Should -Be 2
        $result[0].instruction | Should -Be 'Reverse a string'
        $result[1].instruction | Should -Be 'Sum a list'
        $result[1].generated_code | Should -Be (Get-FakeLlmCode $server 'Sum a list')
    }

    It 'takes -Instruction directly' {
        $result = @(Invoke-CodeInstructionToCode -Instruction 'task A', 'task B' @common)
        $result.instruction | Should -Be 'task A', 'task B'
        $result[0].generated_code | Should -Be (Get-FakeLlmCode $server 'task A')
    }

    It 'adds the output key to hashtables and ordered dictionaries' {
        $table = @{ instruction = 'task H'; id = 7 }
        $ordered = [ordered]@{ id = 8; Instruction = 'task O' }
        $result = @($table, $ordered | Invoke-CodeInstructionToCode @common)
        $result[0] | Should -BeOfType [hashtable]
        [object]::ReferenceEquals($result[0], $table) | Should -BeTrue
        $result[0].generated_code | Should -Be (Get-FakeLlmCode $server 'task H')
        $result[0].id | Should -Be 7
        @($result[1].Keys) | Should -Be 'id', 'Instruction', 'generated_code', 'generated_code_error'
        $result[1].generated_code | Should -Be (Get-FakeLlmCode $server 'task O')
    }

    It 'leaves the other properties and their types untouched' {
        $row = '{"instruction":"task J","id":42,"ratio":0.5,"ok":true,"tags":["a","b"],"meta":{"k":"v"},"none":null}' | ConvertFrom-Json
        $result = $row | Invoke-CodeInstructionToCode @common
        $result.id | Should -BeOfType [long]
        $result.id | Should -Be 42
        $result.ratio | Should -Be 0.5
        $result.ok | Should -BeTrue
        $result.tags | Should -Be 'a', 'b'
        $result.meta.k | Should -Be 'v'
        $result.none | Should -BeNullOrEmpty
        ($result.psobject.Properties.Name -join ',') | Should -Be 'instruction,id,ratio,ok,tags,meta,none,generated_code,generated_code_error'
    }

    It 'keeps input order with -ThrottleLimit 8 and random latency, while requests overlap' {
        Reset-Server @{ latencyMs = 1; jitterMs = 60 }
        $result = @(1..80 | ForEach-Object { [pscustomobject]@{ id = $_; instruction = "task $_" } } |
                Invoke-CodeInstructionToCode @common -ThrottleLimit 8)
        $result.id | Should -Be (1..80)
        foreach ($row in $result) { $row.generated_code | Should -Be (Get-FakeLlmCode $server "task $($row.id)") }
        $stats = Get-FakeLlmStats $server
        $stats.maxInFlight | Should -BeGreaterThan 1
        $stats.maxInFlight | Should -BeLessOrEqual 8
        $stats.requests | Should -Be 80
    }

    It 'waits for its own output instead of buffering the whole input (backpressure)' {
        Reset-Server @{ latencyMs = 5 }
        $script:produced = 0
        $script:maxAhead = 0
        $consumed = 0
        1..600 | ForEach-Object { $script:produced++; "task $_" } |
            Invoke-CodeInstructionToCode @common -ThrottleLimit 2 |
            ForEach-Object { $consumed++; $script:maxAhead = [math]::Max($script:maxAhead, $script:produced - $consumed) }
        $consumed | Should -Be 600
        # at most the pending window (64 rows for -ThrottleLimit 2) is ever ahead of the output
        $script:maxAhead | Should -BeLessOrEqual 65
    }

    It 'uses -PromptTemplate placeholders, -SystemPrompt, -Temperature and -MaxTokens' {
        Reset-Server @{ recordRequests = $true }
        $row = [pscustomobject]@{ instruction = 'sort numbers'; language = 'Go' }
        $null = $row | Invoke-CodeInstructionToCode @common -PromptTemplate "In {language} ({{literal}}):`nTask:`n{instruction}" -SystemPrompt 'Be brief.' -Temperature 0.3 -MaxTokens 99
        $body = (Get-FakeLlmStats $server).requestBodies[0] | ConvertFrom-Json
        $body.messages[0].role | Should -Be 'system'
        $body.messages[0].content | Should -Be 'Be brief.'
        $body.messages[1].content | Should -Be "In Go ({literal}):`nTask:`nsort numbers"
        $body.temperature | Should -Be 0.3
        $body.max_tokens | Should -Be 99
    }

    It 'writes to -OutputKey and reads -InputKey' {
        $result = [pscustomobject]@{ prompt = 'task K' } | Invoke-CodeInstructionToCode @common -InputKey prompt -OutputKey code
        $result.code | Should -Be (Get-FakeLlmCode $server 'task K')
        $result.psobject.Properties.Name | Should -Not -Contain 'generated_code'
    }

    It 'keeps the whole answer with -Raw' {
        Reset-Server @{ style = 'think' }
        $result = 'task R' | Invoke-CodeInstructionToCode @common -Raw
        $result.generated_code | Should -BeLike '<think>*'
        $result.generated_code | Should -BeLike '*```python*'
    }

    It 'picks the block in -Language among several' {
        Reset-Server @{ style = 'multi' }
        ('task L' | Invoke-CodeInstructionToCode @common).generated_code | Should -Be 'pip install nothing'
        ('task L' | Invoke-CodeInstructionToCode @common -Language python).generated_code | Should -Be (Get-FakeLlmCode $server 'task L')
    }

    It 'fills an empty output column left by a failed row, so failed rows can be piped back in' {
        $failed = @('task 1 [[fake:status=500]]' | Invoke-CodeInstructionToCode @common -ErrorAction SilentlyContinue)
        $failed[0].generated_code | Should -BeNullOrEmpty
        $failed[0].instruction = 'task 1'
        ($failed | Invoke-CodeInstructionToCode @common).generated_code | Should -Be (Get-FakeLlmCode $server 'task 1')
    }

    It 'overwrites an existing output column only with -Force' {
        $row = [pscustomobject]@{ instruction = 'task F'; generated_code = 'old' }
        $result = $row | Invoke-CodeInstructionToCode @common -ErrorVariable errors -ErrorAction SilentlyContinue
        $errors.Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'OutputColumnExists,*'
        $errors[0].CategoryInfo.Category | Should -Be 'ResourceExists'
        $result.generated_code | Should -Be 'old'
        (Get-FakeLlmStats $server).requests | Should -Be 0

        ($row | Invoke-CodeInstructionToCode @common -Force).generated_code | Should -Be (Get-FakeLlmCode $server 'task F')
    }

    It 'runs the DataFlow code pipeline rows: arrays become lines, empty instructions are refused without a request' {
        $data = Join-Path $PSScriptRoot 'data/dataflow-examples'
        $code = @(Get-Content (Join-Path $data 'code_input.jsonl') | ConvertFrom-Json)
        $result = @($code | Invoke-CodeInstructionToCode @common -InputKey filename -PromptTemplate "Add docstrings to {filename}.`nTask:`n{lines}")
        $result.Count | Should -Be $code.Count
        $result[0].generated_code | Should -Be (Get-FakeLlmCode $server ($code[0].lines -join "`n"))
        $result[0].line_count | Should -Be $code[0].line_count

        Reset-FakeLlm $server
        $raw = @(Get-Content (Join-Path $data 'raw_code.jsonl') | ConvertFrom-Json)
        $refused = @($raw | Invoke-CodeInstructionToCode @common -ErrorVariable errors -ErrorAction SilentlyContinue)
        $refused.Count | Should -Be $raw.Count
        $errors.Count | Should -Be $raw.Count
        $errors | ForEach-Object { $_.FullyQualifiedErrorId | Should -BeLike 'EmptyInstruction,*' }
        (Get-FakeLlmStats $server).requests | Should -Be 0

        $answered = @($raw | Invoke-CodeInstructionToCode @common -InputKey input)
        $answered.generated_code | Should -Not -Contain $null
        (Get-FakeLlmStats $server).requests | Should -Be $raw.Count
    }
}

Describe 'Errors' {
    BeforeEach { Reset-Server }

    It 'reports a failed row as a non-terminating error carrying the row, and carries on' {
        $rows = @(
            [pscustomobject]@{ id = 1; instruction = 'task 1' }
            [pscustomobject]@{ id = 2; instruction = 'task 2 [[fake:status=500;message=upstream overloaded]]' }
            [pscustomobject]@{ id = 3; instruction = 'task 3' }
        )
        $result = @($rows | Invoke-CodeInstructionToCode @common -ErrorVariable errors -ErrorAction SilentlyContinue)
        $result.id | Should -Be 1, 2, 3
        $result[1].generated_code | Should -BeNullOrEmpty
        $result[2].generated_code | Should -Be (Get-FakeLlmCode $server 'task 3')
        $errors.Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'LlmHttpError,*'
        $errors[0].CategoryInfo.Category | Should -Be 'ResourceUnavailable'
        [object]::ReferenceEquals($errors[0].TargetObject, $rows[1]) | Should -BeTrue
        $errors[0].Exception.Message | Should -BeLike 'Row 2: *500*upstream overloaded*'
        $errors[0].Exception.Error.StatusCode | Should -Be 500
    }

    It 'maps statuses to categories: <status> is <category>' -TestCases @(
        @{ status = 400; category = 'InvalidArgument' }
        @{ status = 422; category = 'InvalidArgument' }
        @{ status = 429; category = 'LimitsExceeded' }
        @{ status = 503; category = 'ResourceUnavailable' }
    ) {
        $null = "x [[fake:status=$status]]" | Invoke-CodeInstructionToCode @common -ErrorVariable errors -ErrorAction SilentlyContinue
        $errors[0].CategoryInfo.Category | Should -Be $category
    }

    It 'stops the whole run at a <status>, which every other row would get too, with a <category> terminating error' -TestCases @(
        @{ status = 401; category = 'AuthenticationError'; directive = 'status=401' }
        @{ status = 403; category = 'PermissionDenied'; directive = 'status=403' }
        @{ status = 404; category = 'ObjectNotFound'; directive = 'status=404' }
        @{ status = 429; category = 'QuotaExceeded'; directive = 'status=429;style=insufficient_quota' }
    ) {
        Reset-Server @{ latencyMs = 5000 }   # the others are still in flight when row 2 stops the run (which aborts them)
        $rows = 1..20 | ForEach-Object { if ($_ -eq 2) { "task 2 [[fake:$directive;latency=0]]" } else { "task $_" } }
        $caught = $null
        $out = @(try { $rows | Invoke-CodeInstructionToCode @common -ThrottleLimit 2 -ErrorVariable errors -ErrorAction SilentlyContinue } catch { $caught = $_ })
        $caught | Should -Not -BeNullOrEmpty
        $caught.FullyQualifiedErrorId | Should -BeLike 'LlmHttpError,*'
        $caught.CategoryInfo.Category | Should -Be $category
        $caught.Exception.Message | Should -BeLike "Stopped at row 2*every other row would fail the same way*$status*"
        # row 1, still in flight when row 2 stopped the run, comes out before the stop and says why it has no code
        $out[0].generated_code_error | Should -BeLike "LlmHttpError: not answered: the run stopped, because the server answered $status*"
        $errors.Count | Should -Be 2
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'LlmHttpError,*'
        $errors[0].CategoryInfo.Category | Should -Be $category
        "$($errors[0])" | Should -BeLike "Row 1: not answered: the run stopped, because the server answered $status*"
        $out.Count | Should -BeLessThan 20
        (Get-FakeLlmStats $server).requests | Should -BeLessThan 6
    }

    It 'stops the run with -ErrorAction Stop' {
        Reset-Server @{ latencyMs = 100 }
        $rows = 1..20 | ForEach-Object { if ($_ -eq 2) { 'task 2 [[fake:status=422]]' } else { "task $_" } }
        $caught = $null
        $out = [System.Collections.Generic.List[object]]::new()
        try { $rows | Invoke-CodeInstructionToCode @common -ThrottleLimit 1 -ErrorAction Stop | ForEach-Object { $out.Add($_) } }
        catch { $caught = $_ }
        $caught | Should -Not -BeNullOrEmpty
        $caught.FullyQualifiedErrorId | Should -BeLike 'LlmHttpError,*'
        $out.Count | Should -Be 1
        # the stop aborts what was in flight: wait for the server to see it end (the deadline is a safety net, not a bound)
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while ((Get-FakeLlmStats $server).inFlight -gt 0 -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 20 }
        $stats = Get-FakeLlmStats $server
        $stats.requests | Should -BeLessThan 20
        $stats.inFlight | Should -Be 0
    }

    It 'reports a row without the input column' {
        $result = [pscustomobject]@{ text = 'x' } | Invoke-CodeInstructionToCode @common -ErrorVariable errors -ErrorAction SilentlyContinue
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'MissingInputColumn,*'
        $errors[0].Exception.Message | Should -BeLike "Row 1: *'instruction'*"
        $result.text | Should -Be 'x'
        (Get-FakeLlmStats $server).requests | Should -Be 0
    }

    It 'refuses an empty or whitespace instruction without a request' {
        $null = '', '   ' | Invoke-CodeInstructionToCode @common -ErrorVariable errors -ErrorAction SilentlyContinue
        $errors.Count | Should -Be 2
        $errors | ForEach-Object { $_.FullyQualifiedErrorId | Should -BeLike 'EmptyInstruction,*' }
        (Get-FakeLlmStats $server).requests | Should -Be 0
    }

    It 'refuses a row whose prompt is over 32 MiB without a request, and answers the others' {
        $rows = 'task 1', ('x' * (32MB + 1)), 'task 3'
        $result = @($rows | Invoke-CodeInstructionToCode @common -ErrorVariable errors -ErrorAction SilentlyContinue)
        $result.Count | Should -Be 3
        $errors.Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'RequestTooLarge,*'
        $errors[0].CategoryInfo.Category | Should -Be 'LimitsExceeded'
        $errors[0].Exception.Message | Should -BeLike "Row 2: the prompt is * bytes (the 'instruction' field 33,554,433), over the 33,554,432 bytes (32 MiB) a request may carry*"
        $errors[0].ErrorDetails.RecommendedAction | Should -Not -BeNullOrEmpty
        $result[0].generated_code, $result[2].generated_code | Should -Not -BeNullOrEmpty
        (Get-FakeLlmStats $server).requests | Should -Be 2
    }

    It 'reports a template placeholder naming a missing column for that row' {
        $rows = [pscustomobject]@{ instruction = 'a'; language = 'Go' }, [pscustomobject]@{ instruction = 'b' }
        $result = @($rows | Invoke-CodeInstructionToCode @common -PromptTemplate '{language}: {instruction}' -ErrorVariable errors -ErrorAction SilentlyContinue)
        $result.Count | Should -Be 2
        $errors.Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'TemplateColumnMissing,*'
        $errors[0].Exception.Message | Should -BeLike "Row 2: *{language}*"
    }

    It 'refuses a malformed template before sending anything' {
        { 'x' | Invoke-CodeInstructionToCode @common -PromptTemplate 'Task: {instruction' } |
            Should -Throw -ErrorId 'InvalidPromptTemplate,CodeGen.Commands.InvokeCodeInstructionToCodeCommand'
        (Get-FakeLlmStats $server).requests | Should -Be 0
    }

    It 'says what to set when no endpoint is configured' {
        $caught = $null
        try { 'x' | Invoke-CodeInstructionToCode -ErrorAction Stop } catch { $caught = $_ }
        $caught.FullyQualifiedErrorId | Should -Be 'InvalidEndpointConfiguration,CodeGen.Commands.InvokeCodeInstructionToCodeCommand'
        $caught.Exception.Message | Should -BeLike '*No LLM endpoint is configured*'
        $caught.ErrorDetails.RecommendedAction | Should -BeLike '*-Endpoint*CODEGEN_ENDPOINT*OPENAI_API_KEY*'
    }

    It 'reads the endpoint and model from CODEGEN_ENDPOINT and CODEGEN_MODEL' {
        try {
            Reset-Server @{ recordRequests = $true }
            $env:CODEGEN_ENDPOINT = $server.BaseUrl
            $env:CODEGEN_MODEL = 'env-model'
            ('task E' | Invoke-CodeInstructionToCode).generated_code | Should -Be (Get-FakeLlmCode $server 'task E')
            ((Get-FakeLlmStats $server).requestBodies[0] | ConvertFrom-Json).model | Should -Be 'env-model'
        }
        finally {
            $env:CODEGEN_ENDPOINT = $null
            $env:CODEGEN_MODEL = $null
        }
    }
}

Describe 'WhatIf, keys, progress, verbose and stopping' {
    BeforeEach { Reset-Server }

    It '-WhatIf shows each row and sends nothing' {
        $result = 'task 1', 'task 2' | Invoke-CodeInstructionToCode @common -WhatIf
        $result | Should -BeNullOrEmpty
        # What-if lines go to the host: read them from a child pwsh's console output
        $script = "Import-Module '$(Join-Path $RepoRoot 'CodeGen.psd1')'; 'task one', 'task two' | Invoke-CodeInstructionToCode -Endpoint '$($server.BaseUrl)' -Model m -WhatIf"
        $shown = & dotnet (Join-Path $PSHOME 'pwsh.dll') -NoProfile -NonInteractive -Command $script
        $shown | Should -HaveCount 2
        $shown[0] | Should -BeLike "What if: *model 'm'*on target `"Row 1: task one`"*"
        $shown[1] | Should -BeLike '*Row 2: task two*'
        (Get-FakeLlmStats $server).requests | Should -Be 0
    }

    It 'binds -ApiKey from a plain string or a SecureString and sends it as a bearer token' {
        $null = 'task 1' | Invoke-CodeInstructionToCode @common -ApiKey 'plain-key-1'
        (Get-FakeLlmStats $server).lastAuthorization | Should -Be 'Bearer plain-key-1'
        $secure = ConvertTo-SecureString 'secure-key-2' -AsPlainText -Force
        $null = 'task 1' | Invoke-CodeInstructionToCode @common -ApiKey $secure
        (Get-FakeLlmStats $server).lastAuthorization | Should -Be 'Bearer secure-key-2'
    }

    It 'never shows the key in output, verbose, debug, warning or error text, even when the server echoes it' {
        $key = 'sk-leaktest-9f8e7d6c5b4a3210'
        # (the fatal 401 path, files and progress are in Resilience.Tests.ps1)
        $all = 'task ok', 'task bad [[fake:status=400;message=Bad request for key {auth}]]' |
            Invoke-CodeInstructionToCode @common -ApiKey $key -Verbose -Debug -ErrorAction Continue *>&1 | Out-String -Width 500
        $all | Should -Not -BeLike "*$key*"
        $all | Should -BeLike '*Row 2*400*'
        $all | Should -BeLike '*`*`*`*`*3210*'   # the masked form is shown instead
    }

    It 'writes a verbose summary with rows, generated, failed, elapsed and tokens' {
        $verbose = 'task 1', 'task 2 [[fake:status=500]]', 'task 3' |
            Invoke-CodeInstructionToCode @common -Verbose -ErrorAction SilentlyContinue 4>&1 |
            Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        $summary = $verbose | Where-Object Message -Like 'Invoke-CodeInstructionToCode:*'
        $summary.Message | Should -Match '^Invoke-CodeInstructionToCode: 3 rows, 2 generated, 1 failed in \d+\.\d\d s \(.* rows/s\); \d+ tokens \(\d+ prompt, \d+ completion\)\.$'
    }

    It 'reports progress while running and completes it' {
        Reset-Server @{ latencyMs = 150 }
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript({
                    param($manifest, $endpoint)
                    Import-Module $manifest
                    1..12 | ForEach-Object { "task $_" } | Invoke-CodeInstructionToCode -Endpoint $endpoint -Model m -ThrottleLimit 2
                }).AddArgument((Join-Path $RepoRoot 'CodeGen.psd1')).AddArgument($server.BaseUrl)
            $output = $ps.Invoke()
            $output.Count | Should -Be 12
            $records = @($ps.Streams.Progress)
            $records.Count | Should -BeGreaterThan 1
            $records[0].StatusDescription | Should -Match '^\d+ done, \d+ failed, \d+ in flight, [\d.]+ rows/s$'
            $records[-1].RecordType | Should -Be 'Completed'
        }
        finally { $ps.Dispose() }
    }

    It 'stops promptly on Ctrl+C (StopProcessing) and leaves no request running' {
        Reset-Server @{ latencyMs = 60000 }
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript({
                    param($manifest, $endpoint)
                    Import-Module $manifest
                    1..20 | ForEach-Object { "task $_" } | Invoke-CodeInstructionToCode -Endpoint $endpoint -Model m -ThrottleLimit 4
                }).AddArgument((Join-Path $RepoRoot 'CodeGen.psd1')).AddArgument($server.BaseUrl)
            $async = $ps.BeginInvoke()
            $deadline = [DateTime]::UtcNow.AddSeconds(20)
            while ((Get-FakeLlmStats $server).inFlight -lt 4 -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 50 }
            (Get-FakeLlmStats $server).inFlight | Should -Be 4

            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            $ps.Stop()
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 5
            $async.IsCompleted | Should -BeTrue
            $deadline = [DateTime]::UtcNow.AddSeconds(5)
            while ((Get-FakeLlmStats $server).inFlight -gt 0 -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 50 }
            $stats = Get-FakeLlmStats $server
            $stats.inFlight | Should -Be 0
            $stats.requests | Should -Be 4
        }
        finally { $ps.Dispose() }
    }
}
