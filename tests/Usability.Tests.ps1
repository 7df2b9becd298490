# The things a new user trips on (issue 13): folder output, wildcards, hints that name what exists, -WhatIf
# that shows what would be sent, the endpoint view, failure reasons in pipeline mode, and progress.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $server = Start-FakeLlm
    $common = @{ Endpoint = $server.BaseUrl; Model = 'fake-model'; MaxRetries = 0 }
    $fast = @{ PollIntervalSec = 0.05 }

    function New-TaskFile([string] $Path, [int] $Count, [scriptblock] $Instruction = { "task $_" }) {
        $null = New-Item -ItemType Directory -Force -Path (Split-Path $Path)
        1..$Count | ForEach-Object { [pscustomobject]@{ id = $_; instruction = (& $Instruction) } } | Export-Csv -LiteralPath $Path -UseQuotes AsNeeded
        $Path
    }

    # Every '-Name' in a hint must be a parameter of the command the sentence names (Verb-Noun before it), or
    # else of the command in use; every CodeGen command named must exist.
    function Assert-HintNamesWhatExists([System.Management.Automation.ErrorRecord] $Record, [string] $Command) {
        $texts = @($Record.Exception.Message, $Record.ErrorDetails.Message, $Record.ErrorDetails.RecommendedAction) | Where-Object { $_ }
        foreach ($text in $texts) {
            foreach ($sentence in ($text -split '(?<=[.;:])\s+')) {
                $named = [regex]::Matches($sentence, '\b(?:Invoke|Import|Export|New|Set|Get|Clear|Stop)-CodeGen\w+|\bInvoke-CodeInstructionToCode\b') | ForEach-Object Value
                foreach ($name in $named) { Get-Command $name -Module CodeGen -ErrorAction SilentlyContinue | Should -Not -BeNullOrEmpty -Because "'$sentence' names $name" }
                $owner = if ($named) { @($named)[0] } else { $Command }
                $parameters = (Get-Command $owner -Module CodeGen).Parameters
                foreach ($match in [regex]::Matches($sentence, '(?<![\w-])-([A-Z][A-Za-z]+)')) {
                    $parameter = $match.Groups[1].Value
                    $parameters.ContainsKey($parameter) | Should -BeTrue -Because "'$sentence' (from $Command) names -$parameter of $owner"
                }
            }
        }
    }
}

AfterAll {
    Clear-CodeGenEndpoint
    if ($server) { Stop-FakeLlm $server }
    Restore-EndpointEnvironment
}

Describe 'Folder output' {
    BeforeEach { Reset-FakeLlm $server; $folder = New-TestFolder }

    It 'writes one file per input into a folder it creates, named after each input' {
        $null = New-TaskFile (Join-Path $folder 'batches/a.csv') 2
        $null = New-TaskFile (Join-Path $folder 'batches/b.csv') 3
        Push-Location $folder
        try {
            $summaries = Get-ChildItem ./batches -Filter *.csv | Invoke-CodeInstructionToCode -OutputPath ./generated -OutputFormat jsonl @common
        }
        finally { Pop-Location }
        $summaries.Generated | Should -Be 2, 3
        (Get-ChildItem (Join-Path $folder 'generated')).Name | Sort-Object | Should -Be 'a.jsonl', 'b.jsonl'
        @(Get-Content (Join-Path $folder 'generated/b.jsonl')).Count | Should -Be 3
    }

    It 'takes a path ending in a separator as a folder, even for one input' {
        $in = New-TaskFile (Join-Path $folder 'in.csv') 1
        $summary = Invoke-CodeInstructionToCode -Path $in -OutputPath (Join-Path $folder 'out/') @common
        $summary.OutputPath | Should -Be (Join-Path $folder 'out/in.csv')
        Test-Path -LiteralPath (Join-Path $folder 'out/in.csv') | Should -BeTrue
    }

    It 'keeps the names of inputs with the same name apart, whatever order they come in' {
        $one = New-TaskFile (Join-Path $folder 'x/tasks.csv') 1
        $two = New-TaskFile (Join-Path $folder 'y/tasks.csv') 1
        $json = Join-Path $folder 'tasks.json'
        '[{"instruction":"task j"}]' | Set-Content -LiteralPath $json
        $summaries = Get-Item -LiteralPath $one, $two, $json | Invoke-CodeInstructionToCode -OutputPath (Join-Path $folder 'out') -OutputFormat jsonl @common
        $names = Split-Path -Leaf $summaries.OutputPath
        $names[0..1] | Should -Be 'x_tasks.jsonl', 'y_tasks.jsonl'
        $names[2] | Should -Be "$(Split-Path -Leaf $folder)_tasks.jsonl"
        # the names come from the set, not the order: the same inputs the other way round get the same outputs
        $again = Get-Item -LiteralPath $json, $two, $one | Invoke-CodeInstructionToCode -OutputPath (Join-Path $folder 'out') -OutputFormat jsonl @common -Resume
        Split-Path -Leaf $again.OutputPath | Should -Be $names[2], $names[1], $names[0]
        $again.SkippedByResume | Should -Be 1, 1, 1
    }

    It 'refuses several inputs for an output that is a file, and creates nothing under -WhatIf' {
        $a = New-TaskFile (Join-Path $folder 'a.csv') 1
        $b = New-TaskFile (Join-Path $folder 'b.csv') 1
        'x' | Set-Content -LiteralPath (Join-Path $folder 'taken')
        { Get-Item -LiteralPath $a, $b | Invoke-CodeInstructionToCode -OutputPath (Join-Path $folder 'taken') @common -ErrorAction Stop } | Should -Throw -ErrorId 'OutputPathIsAFile*'
        Get-Item -LiteralPath $a, $b | Invoke-CodeInstructionToCode -OutputPath (Join-Path $folder 'later') @common -WhatIf
        Test-Path -LiteralPath (Join-Path $folder 'later') | Should -BeFalse
        (Get-FakeLlmStats $server).requests | Should -Be 0
    }
}

Describe 'Import-CodeGenBatchResult paths' {
    BeforeAll {
        Reset-FakeLlm $server
        $source = New-TestFolder
        $inFile = New-TaskFile (Join-Path $source 'in.csv') 4 { if ($_ -eq 4) { 'task 4 [[fake:status=400;message=no such thing]]' } else { "task $_" } }
        $null = Invoke-CodeInstructionToCode -Path $inFile -OutputPath (Join-Path $source 'first.csv') @common -Batch @fast -ErrorAction SilentlyContinue
        $resultLines = Get-ChildItem -LiteralPath (Join-Path $source 'first.csv.batch') -Filter '*.output.jsonl' | Get-Content
        $errorLines = Get-ChildItem -LiteralPath (Join-Path $source 'first.csv.batch') -Filter '*.errors.jsonl' | Get-Content
    }

    It 'expands wildcards in -ResultPath and -ErrorPath, as PowerShell''s own -Path parameters do' {
        $folder = New-TestFolder
        $resultLines | Select-Object -First 2 | Set-Content -LiteralPath (Join-Path $folder 'output1.jsonl')
        $resultLines | Select-Object -Skip 2 | Set-Content -LiteralPath (Join-Path $folder 'output2.jsonl')
        $errorLines | Set-Content -LiteralPath (Join-Path $folder 'errors1.jsonl')
        Push-Location $folder
        try {
            $summary = Import-CodeGenBatchResult -Path $inFile -ResultPath output*.jsonl -ErrorPath errors*.jsonl -OutputPath out.jsonl -ErrorAction SilentlyContinue
        }
        finally { Pop-Location }
        ($summary.Generated, $summary.Failed) | Should -Be 3, 1
    }

    It 'takes a name with wildcard characters as written when it exists, and says when a pattern matches nothing' {
        $folder = New-TestFolder
        $resultLines | Set-Content -LiteralPath (Join-Path $folder 'out[1].jsonl')
        $summary = Import-CodeGenBatchResult -Path $inFile -ResultPath (Join-Path $folder 'out[1].jsonl') -OutputPath (Join-Path $folder 'merged.jsonl') -ErrorAction SilentlyContinue
        $summary.Generated | Should -Be 3
        { Import-CodeGenBatchResult -Path $inFile -ResultPath (Join-Path $folder 'nothing*.jsonl') -OutputPath (Join-Path $folder 'm2.jsonl') -ErrorAction Stop } |
            Should -Throw -ErrorId 'DataFileNotFound*' -ExpectedMessage '*nothing*.jsonl matches no file*'
    }
}

Describe 'Hints name what exists' {
    BeforeEach { Reset-FakeLlm $server; Clear-CodeGenEndpoint; $folder = New-TestFolder }

    It 'Invoke-CodeInstructionToCode: <Name>' -ForEach @(
        @{ Name = 'output exists'; Run = { param($f) $in = New-TaskFile "$f/in.csv" 1; 'x' | Set-Content "$f/out.csv"; Invoke-CodeInstructionToCode -Path $in -OutputPath "$f/out.csv" @common -ErrorAction Stop } }
        @{ Name = 'batch output exists'; Run = { param($f) $in = New-TaskFile "$f/in.csv" 1; 'x' | Set-Content "$f/out.csv"; Invoke-CodeInstructionToCode -Path $in -OutputPath "$f/out.csv" @common -Batch @fast -ErrorAction Stop } }
        @{ Name = 'batch already merged'; Run = { param($f) $in = New-TaskFile "$f/in.csv" 1; $null = Invoke-CodeInstructionToCode -Path $in -OutputPath "$f/out.csv" @common -Batch @fast; Invoke-CodeInstructionToCode -Path $in -OutputPath "$f/out.csv" @common -Batch @fast -ErrorAction Stop } }
        @{ Name = 'resume and force'; Run = { param($f) Invoke-CodeInstructionToCode -Path "$f/in.csv" -OutputPath "$f/o.csv" @common -Resume -Force -ErrorAction Stop } }
        @{ Name = 'batch and resume'; Run = { param($f) Invoke-CodeInstructionToCode -Path "$f/in.csv" -OutputPath "$f/o.csv" @common -Batch -Resume -ErrorAction Stop } }
        @{ Name = 'no wait without batch'; Run = { param($f) Invoke-CodeInstructionToCode -Path "$f/in.csv" -OutputPath "$f/o.csv" @common -NoWait -ErrorAction Stop } }
        @{ Name = 'no endpoint'; Run = { param($f) 'task' | Invoke-CodeInstructionToCode -Model m -ErrorAction Stop } }
        @{ Name = 'no model'; Run = { param($f) 'task' | Invoke-CodeInstructionToCode -Endpoint $server.BaseUrl -ErrorAction Stop } }
        @{ Name = 'cache mode without a folder'; Run = { param($f) 'task' | Invoke-CodeInstructionToCode @common -CacheMode ReadOnly -ErrorAction Stop } }
        @{ Name = 'replay of a missing cache'; Run = { param($f) 'task' | Invoke-CodeInstructionToCode @common -CachePath "$f/none" -CacheMode ReadOnly -ErrorAction Stop } }
        @{ Name = 'cache miss'; Run = { param($f) $null = New-Item -ItemType Directory "$f/cache"; 'task' | Invoke-CodeInstructionToCode @common -CachePath "$f/cache" -CacheMode ReadOnly -ErrorAction Stop } }
        @{ Name = 'missing input column'; Run = { param($f) [pscustomobject]@{ prompt = 'x' } | Invoke-CodeInstructionToCode @common -ErrorAction Stop } }
        @{ Name = 'output column exists'; Run = { param($f) [pscustomobject]@{ instruction = 'x'; generated_code = 'y' } | Invoke-CodeInstructionToCode @common -ErrorAction Stop } }
        @{ Name = 'damaged output'; Run = { param($f) $in = New-TaskFile "$f/in.csv" 2; "instruction,generated_code`r`na`r`nb,2`r`n" | Set-Content -NoNewline "$f/out.csv"; Invoke-CodeInstructionToCode -Path $in -OutputPath "$f/out.csv" @common -Resume -ErrorAction Stop } }
        @{ Name = 'output of other input'; Run = { param($f) $in = New-TaskFile "$f/in.csv" 2; "instruction,generated_code`r`nother,x`r`n" | Set-Content -NoNewline "$f/out.csv"; Invoke-CodeInstructionToCode -Path $in -OutputPath "$f/out.csv" @common -Resume -ErrorAction Stop } }
        @{ Name = 'unknown format'; Run = { param($f) 'x' | Set-Content "$f/in.txt"; Invoke-CodeInstructionToCode -Path "$f/in.txt" -OutputPath "$f/o.jsonl" @common -ErrorAction Stop } }
        @{ Name = 'rows a batch did not answer'; Run = { param($f) $in = New-TaskFile "$f/in.csv" 2 { if ($_ -eq 2) { 'task 2 [[fake:status=400]]' } else { 'task 1' } }; Invoke-CodeInstructionToCode -Path $in -OutputPath "$f/out.csv" @common -Batch @fast -ErrorAction Stop } }
    ) {
        $null = New-TaskFile "$folder/in.csv" 1
        $caught = $null
        try { & $Run $folder } catch { $caught = $_ }
        $caught | Should -Not -BeNullOrEmpty
        Assert-HintNamesWhatExists $caught 'Invoke-CodeInstructionToCode'
    }

    It 'states the fact in the message and gives the way on in RecommendedAction: <Name>' -ForEach @(
        @{ Name = 'an output that cannot be continued'; Advice = '*-Force*start over*'; Run = { param($f) $in = New-TaskFile "$f/in.csv" 2; "instruction,generated_code`r`nother,x`r`n" | Set-Content -NoNewline "$f/out.csv"; Invoke-CodeInstructionToCode -Path $in -OutputPath "$f/out.csv" @common -Resume -ErrorAction Stop } }
        @{ Name = 'a batch job made from other rows'; Advice = '*-Force*new batch job*'; Run = { param($f) $in = New-TaskFile "$f/in.csv" 2; $null = Invoke-CodeInstructionToCode -Path $in -OutputPath "$f/out.csv" @common -Batch @fast -NoWait; $null = New-TaskFile $in 3; Invoke-CodeInstructionToCode -Path $in -OutputPath "$f/out.csv" @common -Batch @fast -ErrorAction Stop } }
        @{ Name = 'an Azure deployment without Azure'; Advice = '*-Provider AzureOpenAI*-Deployment*'; Run = { param($f) 'task' | Invoke-CodeInstructionToCode -Endpoint $server.BaseUrl -Deployment gpt-4o-prod -ErrorAction Stop } }
    ) {
        $caught = $null
        try { & $Run $folder } catch { $caught = $_ }
        $caught | Should -Not -BeNullOrEmpty
        $caught.Exception.Message | Should -Not -Match '(?<![\w-])-[A-Z][a-z]+'
        $caught.ErrorDetails.RecommendedAction | Should -BeLike $Advice
    }

    It 'adds the advice to raise -MaxTokens to the warning about an answer cut off at the token limit' {
        $warnings = @()
        $null = 'task [[fake:style=unclosed]]' | Invoke-CodeInstructionToCode @common -WarningVariable warnings -WarningAction SilentlyContinue
        $warnings | Should -HaveCount 1
        "$($warnings[0])" | Should -BeLike '*token limit*Raise -MaxTokens.'
    }

    It 'Import-CodeGenBatchResult: an output that exists, and rows without a result' {
        $in = New-TaskFile "$folder/in.csv" 2
        '{"custom_id":"row-1-00000000","response":null}' | Set-Content "$folder/results.jsonl"
        'x' | Set-Content "$folder/out.csv"
        $caught = $null
        try { Import-CodeGenBatchResult -Path $in -ResultPath "$folder/results.jsonl" -OutputPath "$folder/out.csv" -ErrorAction Stop } catch { $caught = $_ }
        $caught.FullyQualifiedErrorId | Should -BeLike 'OutputFileExists*'
        $caught.ErrorDetails.RecommendedAction | Should -Not -BeLike '*-Resume*'
        Assert-HintNamesWhatExists $caught 'Import-CodeGenBatchResult'

        # row 2: a batch line that failed as the model was not found (advice about -Endpoint or -ApiKey would name what Import lacks)
        '{"custom_id":"row-2-00000000","response":{"status_code":404,"body":{"error":{"message":"The model does not exist","type":"invalid_request_error","code":"model_not_found"}}}}' |
            Add-Content "$folder/results.jsonl"
        $null = Import-CodeGenBatchResult -Path $in -ResultPath "$folder/results.jsonl" -OutputPath "$folder/merged.csv" -ErrorVariable missing -ErrorAction SilentlyContinue
        $missing | Should -Not -BeNullOrEmpty
        foreach ($record in $missing) {
            $record.Exception.Message | Should -Not -BeLike '*-Batch*'
            Assert-HintNamesWhatExists $record 'Import-CodeGenBatchResult'
        }
    }

    It 'Export-CodeGenBatch and the endpoint cmdlets' {
        $in = New-TaskFile "$folder/in.csv" 1
        'x' | Set-Content "$folder/requests.jsonl"
        $records = @()
        try { Export-CodeGenBatch -Path $in -OutFile "$folder/requests.jsonl" -Model m -ErrorAction Stop } catch { $records += $_ }
        try { Export-CodeGenBatch -Path $in -OutFile "$folder/other.jsonl" -ErrorAction Stop } catch { $records += $_ }
        try { Get-CodeGenBatch -OutputPath "$folder/none.csv" -ErrorAction Stop } catch { $records += $_ }
        try { Set-CodeGenEndpoint -ApiKey a -Token b -ErrorAction Stop } catch { $records += $_ }
        $records.Count | Should -Be 4
        foreach ($record in $records) { Assert-HintNamesWhatExists $record $record.InvocationInfo.MyCommand.Name }
    }
}

Describe '-WhatIf -Verbose shows what would be sent' {
    BeforeEach { Reset-FakeLlm $server; $folder = New-TestFolder }

    It 'shows every message of every row in pipeline mode, and sends nothing' {
        $verbose = [pscustomobject]@{ instruction = "Sort a list`nin place" } |
            Invoke-CodeInstructionToCode @common -SystemPrompt 'Be brief.' -WhatIf -Verbose 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        $shown = ($verbose.Message | Where-Object { $_ -like 'Row 1 would send*' }) -join "`n"
        $shown | Should -BeLike '*2 messages*system:*Be brief.*user:*You will get a programming task*Sort a list*in place*'
        (Get-FakeLlmStats $server).requests | Should -Be 0
    }

    It 'shows the rows of a file, with why a row would send nothing' {
        $in = New-TaskFile (Join-Path $folder 'in.csv') 2 { if ($_ -eq 2) { ' ' } else { 'Parse a date' } }
        $verbose = Invoke-CodeInstructionToCode -Path $in -OutputPath (Join-Path $folder 'out.csv') @common -PromptTemplate 'Task: {instruction} ({id})' -WhatIf -Verbose 4>&1 |
            Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        ($verbose.Message | Where-Object { $_ -like 'Row 1 would send*' }) | Should -BeLike '*user:*Task: Parse a date (1)*'
        ($verbose.Message | Where-Object { $_ -like 'Row 2 would send nothing*' }) | Should -BeLike '*empty*'
        Test-Path -LiteralPath (Join-Path $folder 'out.csv') | Should -BeFalse
    }

    It 'warns about a template without the instruction column, and -Language that the template drops' {
        $warnings = 'x' | Invoke-CodeInstructionToCode @common -PromptTemplate 'Write something' -Language PowerShell -WhatIf 3>&1 |
            Where-Object { $_ -is [System.Management.Automation.WarningRecord] }
        $warnings.Message | Should -HaveCount 2
        $warnings[0].Message | Should -BeLike '*no {instruction}*'
        $warnings[1].Message | Should -BeLike '*-Language PowerShell does not reach the model*'
        $quiet = [pscustomobject]@{ instruction = 'x'; language = 'PowerShell' } |
            Invoke-CodeInstructionToCode @common -PromptTemplate 'Write {language} code: {instruction}' -Language PowerShell -WhatIf 3>&1 |
            Where-Object { $_ -is [System.Management.Automation.WarningRecord] }
        $quiet | Should -BeNullOrEmpty
    }
}

Describe 'Endpoint view' {
    AfterEach { Clear-CodeGenEndpoint }

    It 'shows with Set-CodeGenEndpoint -PassThru what Get-CodeGenEndpoint shows' {
        $set = Set-CodeGenEndpoint -Endpoint http://localhost:8000/v1 -Model Qwen/Qwen2.5-Coder-32B-Instruct -ThrottleLimit 64 -MaxRetries 8 -PassThru
        $get = Get-CodeGenEndpoint
        foreach ($property in $get.psobject.Properties.Name) { $set.$property | Should -Be $get.$property -Because $property }
        $get.Endpoint | Should -Be 'http://localhost:8000/v1/chat/completions'
        $get.EndpointSource | Should -Be 'session defaults'
        ($get | Out-String) | Should -Match 'Endpoint\s+: http://localhost:8000/v1/chat/completions  \(session defaults\)'
    }
}

Describe 'Failed rows keep their reason in pipeline mode' {
    BeforeEach { Reset-FakeLlm $server; $folder = New-TestFolder }

    It 'adds <OutputKey>_error to every row, so Export-Csv keeps it' {
        $rows = 'task 1', 'task 2 [[fake:status=400;message=bad task]]', 'task 3' | ForEach-Object { [pscustomobject]@{ instruction = $_ } }
        $csv = Join-Path $folder 'out.csv'
        $rows | Invoke-CodeInstructionToCode @common -OutputKey solution -ErrorAction SilentlyContinue | Export-Csv -LiteralPath $csv
        $back = Import-Csv -LiteralPath $csv
        $back[0].solution_error | Should -Be ''
        $back[1].solution | Should -Be ''
        $back[1].solution_error | Should -BeLike 'LlmHttpError: *bad task*'
        $back[2].solution | Should -Not -BeNullOrEmpty
    }
}

Describe 'Progress' {
    It 'shows a percentage and the time left in file mode, on a short status line' {
        $folder = New-TestFolder
        $in = New-TaskFile (Join-Path $folder 'in.csv') 40
        Set-FakeLlmConfig $server @{ latencyMs = 40 }
        try {
            $shell = [powershell]::Create()
            $null = $shell.AddScript({
                param($Manifest, $In, $Out, $Endpoint)
                Import-Module $Manifest
                Invoke-CodeInstructionToCode -Path $In -OutputPath $Out -Endpoint $Endpoint -Model fake-model -ThrottleLimit 2
            }).AddArgument((Join-Path $RepoRoot 'CodeGen.psd1')).AddArgument($in).AddArgument((Join-Path $folder 'out.csv')).AddArgument($server.BaseUrl)
            $null = $shell.Invoke()
            $records = @($shell.Streams.Progress | Where-Object { $_.RecordType -eq 'Processing' -and $_.Activity -like 'Generating code*' })
            $shell.Dispose()
        }
        finally { Set-FakeLlmConfig $server @{} }
        $records.Count | Should -BeGreaterThan 1
        $middle = $records | Where-Object { $_.PercentComplete -gt 0 -and $_.PercentComplete -lt 100 }
        $middle | Should -Not -BeNullOrEmpty
        ($middle | Where-Object { $_.SecondsRemaining -ge 0 }) | Should -Not -BeNullOrEmpty
        $records | ForEach-Object { $_.StatusDescription.Length | Should -BeLessThan 80 }
    }
}

Describe 'Values in prompts' {
    BeforeAll {
        function Get-WouldSend([Parameter(ValueFromPipeline)] $Row, [hashtable] $Options) {
            # the messages row 1 would send, as -WhatIf -Verbose shows them
            process {
                $records = if ($Row) { $Row | Invoke-CodeInstructionToCode @common @Options -WhatIf -Verbose 4>&1 } else { Invoke-CodeInstructionToCode @common @Options -WhatIf -Verbose 4>&1 }
                ($records | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] -and $_.Message -like 'Row 1 would send*' }).Message
            }
        }
    }

    It 'writes a date into the prompt the same way in pipeline mode and in file mode' {
        $folder = New-TestFolder
        $row = [pscustomobject]@{ instruction = 'Remind me'; due = [datetime]::new(2026, 12, 1, 10, 30, 0, [DateTimeKind]::Utc) }
        $template = 'Due {due}: {instruction}'
        $fromPipeline = $row | Get-WouldSend -Options @{ PromptTemplate = $template }
        $row | Export-CodeGenData (Join-Path $folder 'rows.jsonl')
        $fromFile = Get-WouldSend -Options @{ Path = (Join-Path $folder 'rows.jsonl'); OutputPath = (Join-Path $folder 'out.jsonl'); PromptTemplate = $template }
        $fromPipeline | Should -BeLike '*Due 2026-12-01T10:30:00.0000000Z: Remind me*'
        $fromFile | Should -Be $fromPipeline
    }

    It 'writes booleans, numbers, lists, dictionaries and objects the same way in every mode' {
        $folder = New-TestFolder
        $values = [ordered]@{
            instruction = 'Configure it'
            enabled     = $true
            ratio       = 0.1
            count       = 42
            hosts       = @('a.example', 'b.example')
            limits      = [ordered]@{ cpu = 2; memory = '4Gi' }
            owner       = [pscustomobject]@{ name = 'ops'; oncall = $false }
        }
        $template = 'enabled={enabled} ratio={ratio} count={count} hosts={hosts} limits={limits} owner={owner}: {instruction}'
        $fromObject = [pscustomobject]$values | Get-WouldSend -Options @{ PromptTemplate = $template }
        $fromDictionary = $values | Get-WouldSend -Options @{ PromptTemplate = $template }
        [pscustomobject]$values | Export-CodeGenData (Join-Path $folder 'rows.jsonl')
        $fromJsonLines = Get-WouldSend -Options @{ Path = (Join-Path $folder 'rows.jsonl'); OutputPath = (Join-Path $folder 'out.jsonl'); PromptTemplate = $template }
        $fromImported = Import-CodeGenData (Join-Path $folder 'rows.jsonl') | Get-WouldSend -Options @{ PromptTemplate = $template }

        $fromObject | Should -BeLike ('*enabled=true ratio=0.1 count=42 hosts=a.example*b.example limits={"cpu":2,"memory":"4Gi"} owner={"name":"ops","oncall":false}: Configure it*')
        $fromDictionary | Should -Be $fromObject
        $fromJsonLines | Should -Be $fromObject
        $fromImported | Should -Be $fromObject
    }
}
