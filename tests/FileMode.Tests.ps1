BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $server = Start-FakeLlm
    # Retries have their own tests (Resilience.Tests.ps1): here a failure should fail at once.
    $common = @{ Endpoint = $server.BaseUrl; Model = 'fake-model'; MaxRetries = 0 }
    $manifest = Join-Path $RepoRoot 'CodeGen.psd1'

    function Reset-Server([hashtable] $Config = @{}) {
        Set-FakeLlmConfig $server $Config
        Reset-FakeLlm $server
    }

    function New-TaskFile([string] $Path, [int] $Count, [scriptblock] $Instruction = { "task $_" }) {
        1..$Count | ForEach-Object { [pscustomobject]@{ id = $_; instruction = (& $Instruction) } } | Export-Csv -LiteralPath $Path -Encoding utf8
        $Path
    }
}

AfterAll {
    if ($server) { Stop-FakeLlm $server }
    Restore-EndpointEnvironment
}

Describe 'File mode' {
    BeforeEach { Reset-Server; $folder = New-TestFolder }

    It 'reads CSV with quoted, multi-line and non-ASCII fields and writes JSONL, emitting one summary' {
        $in = Join-Path $folder 'in.csv'
        @(
            [pscustomobject]@{ id = 1; note = 'a, "b"'; instruction = "Parse `"a,b`",c`nkeeping quotes" }
            [pscustomobject]@{ id = 2; note = '日本語 🚀'; instruction = 'Écris une fonction' }
        ) | Export-Csv -LiteralPath $in -Encoding utf8BOM
        $out = Join-Path $folder 'out.jsonl'
        $result = @(Invoke-CodeInstructionToCode -Path $in -OutputPath $out @common)
        $result.Count | Should -Be 1
        $summary = $result[0]
        $summary.RowsRead | Should -Be 2
        $summary.Generated | Should -Be 2
        $summary.Failed | Should -Be 0
        $summary.SkippedByResume | Should -Be 0
        $summary.TotalTokens | Should -BeGreaterThan 0
        $summary.OutputPath | Should -Be $out
        $summary.Elapsed | Should -BeOfType [timespan]

        $rows = @(Get-Content -LiteralPath $out | ConvertFrom-Json)
        $rows.Count | Should -Be 2
        $rows[0].note | Should -Be 'a, "b"'
        $rows[0].instruction | Should -Be "Parse `"a,b`",c`nkeeping quotes"
        $rows[1].note | Should -Be '日本語 🚀'
        $rows[1].generated_code | Should -Be (Get-FakeLlmCode $server 'Écris une fonction')
    }

    It 'keeps JSON types from JSON to JSON and writes strings from CSV' {
        $in = Join-Path $folder 'in.json'
        '[{"instruction":"task 1","n":42,"f":0.25,"ok":false,"tags":["a","b"],"meta":{"k":null}}]' | Set-Content -LiteralPath $in
        $null = Invoke-CodeInstructionToCode -Path $in -OutputPath (Join-Path $folder 'out.json') @common
        $row = (Get-Content -Raw (Join-Path $folder 'out.json') | ConvertFrom-Json)[0]
        $row.n | Should -BeOfType [long]
        $row.f | Should -Be 0.25
        $row.ok | Should -BeFalse
        $row.tags | Should -Be 'a', 'b'
        $row.meta.psobject.Properties.Name | Should -Be 'k'

        $null = Invoke-CodeInstructionToCode -Path (New-TaskFile (Join-Path $folder 'n.csv') 1) -OutputPath (Join-Path $folder 'n.jsonl') @common
        (Get-Content (Join-Path $folder 'n.jsonl')) | Should -BeLike '{"id":"1",*'
    }

    It 'writes a failed row with empty code, records the error in the generated_code_error column, and reports it' {
        $in = New-TaskFile (Join-Path $folder 'in.csv') 3 { if ($_ -eq 2) { 'task 2 [[fake:status=500;message=boom]]' } else { "task $_" } }
        $out = Join-Path $folder 'out.csv'
        $summary = Invoke-CodeInstructionToCode -Path $in -OutputPath $out @common -ErrorVariable errors -ErrorAction SilentlyContinue
        $summary.Failed | Should -Be 1
        $errors.Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'LlmHttpError,*'
        $errors[0].TargetObject.id | Should -Be '2'
        $rows = @(Import-Csv -LiteralPath $out)
        $rows.id | Should -Be '1', '2', '3'
        $rows[1].generated_code | Should -BeNullOrEmpty
        $rows[1].generated_code_error | Should -BeLike 'LlmHttpError: *500*boom*'
        $rows[2].generated_code_error | Should -BeNullOrEmpty
    }

    It 'emits the rows too with -PassThru, the summary last' {
        $in = New-TaskFile (Join-Path $folder 'in.csv') 3
        $result = @(Invoke-CodeInstructionToCode -Path $in -OutputPath (Join-Path $folder 'out.jsonl') @common -PassThru)
        $result.Count | Should -Be 4
        $result[0..2].id | Should -Be '1', '2', '3'
        $result[2].generated_code | Should -Be (Get-FakeLlmCode $server 'task 3')
        $result[3].RowsRead | Should -Be 3
    }

    It 'refuses an existing output without -Resume or -Force, and -Force replaces it' {
        $in = New-TaskFile (Join-Path $folder 'in.csv') 2
        $out = Join-Path $folder 'out.jsonl'
        'keep me' | Set-Content -LiteralPath $out
        $caught = $null
        try { Invoke-CodeInstructionToCode -Path $in -OutputPath $out @common -ErrorAction Stop } catch { $caught = $_ }
        $caught.FullyQualifiedErrorId | Should -Be 'OutputFileExists,CodeGen.Commands.InvokeCodeInstructionToCodeCommand'
        $caught.Exception.Message | Should -BeLike '*out.jsonl*already exists*'
        $caught.ErrorDetails.RecommendedAction | Should -Be 'Pass -Resume to continue it, or -Force to replace it.'
        Get-Content -LiteralPath $out | Should -Be 'keep me'
        (Get-FakeLlmStats $server).requests | Should -Be 0
        (Invoke-CodeInstructionToCode -Path $in -OutputPath $out @common -Force).Generated | Should -Be 2
        { Invoke-CodeInstructionToCode -Path $in -OutputPath $out @common -Force -Resume } | Should -Throw -ErrorId 'ResumeAndForce,*'
    }

    It 'refuses bad input before any request, naming the file and line: <case>' -TestCases @(
        @{ case = 'missing file'; name = 'missing.csv'; content = $null; id = 'DataFileNotFound'; message = '*missing.csv*does not exist*'; advice = $null }
        @{ case = 'unknown format'; name = 'in.txt'; content = 'instruction'; id = 'UnknownDataFormat'; message = "*in.txt*'.txt'*"; advice = '*-Format*' }
        @{ case = 'no input column'; name = 'in.csv'; content = "id,prompt`n1,x"; id = 'MissingInputColumn'; message = "*in.csv, line 1*no 'instruction' column*'id', 'prompt'*"; advice = '*-InputKey*' }
        @{ case = 'output column present'; name = 'in.csv'; content = "instruction,generated_code`nx,old"; id = 'OutputColumnExists'; message = "*already a 'generated_code' column*"; advice = '*-Force*-OutputKey*' }
        @{ case = 'malformed CSV'; name = 'in.csv'; content = "instruction,n`n`"open,1"; id = 'MalformedDataFile'; message = '*in.csv, line 2*never closed*'; advice = $null }
        @{ case = 'malformed JSONL'; name = 'in.jsonl'; content = "`n{`"instruction`": nope}"; id = 'MalformedDataFile'; message = '*in.jsonl, line 2, column 18*malformed JSON*'; advice = $null }
        @{ case = 'JSON that is not an array'; name = 'in.json'; content = '{"instruction":"a"}'; id = 'MalformedDataFile'; message = '*in.json, line 1*JSON array*'; advice = $null }
    ) {
        $in = Join-Path $folder $name
        if ($null -ne $content) { Set-Content -LiteralPath $in -Value $content }
        $out = Join-Path $folder 'out.jsonl'
        $caught = $null
        try { Invoke-CodeInstructionToCode -Path $in -OutputPath $out @common } catch { $caught = $_ }
        $caught.FullyQualifiedErrorId | Should -Be "$id,CodeGen.Commands.InvokeCodeInstructionToCodeCommand"
        # the message states the fact; advice that names parameters is the record's RecommendedAction
        $caught.Exception.Message | Should -BeLike $message
        $caught.Exception.Message | Should -Not -Match '(?<![\w-])-[A-Z][a-z]+'
        if ($advice) { $caught.ErrorDetails.RecommendedAction | Should -BeLike $advice } else { $caught.ErrorDetails.RecommendedAction | Should -BeNullOrEmpty }
        Test-Path -LiteralPath $out | Should -BeFalse
        (Get-FakeLlmStats $server).requests | Should -Be 0
    }

    It 'stops at a malformed record further down, keeping the rows written before it' {
        $in = Join-Path $folder 'in.jsonl'
        "{`"instruction`":`"task 1`"}", "{`"instruction`":`"task 2`"}", '{"instruction":"task 3",}', "{`"instruction`":`"task 4`"}" | Set-Content -LiteralPath $in
        $out = Join-Path $folder 'out.jsonl'
        { Invoke-CodeInstructionToCode -Path $in -OutputPath $out @common } | Should -Throw -ExpectedMessage '*in.jsonl, line 3*'
        (Get-Content -LiteralPath $out | ConvertFrom-Json).instruction | Should -Be 'task 1', 'task 2'
    }

    It 'stops at once with -ErrorAction Stop, keeping the rows done before the failed one' {
        Reset-Server @{ latencyMs = 150 }
        $in = New-TaskFile (Join-Path $folder 'in.csv') 40 { if ($_ -eq 3) { 'task 3 [[fake:status=500;times=1]]' } else { "task $_" } }
        $out = Join-Path $folder 'out.jsonl'
        { Invoke-CodeInstructionToCode -Path $in -OutputPath $out @common -ThrottleLimit 2 -ErrorAction Stop } | Should -Throw -ErrorId 'LlmHttpError,*'
        $written = @(Get-Content -LiteralPath $out | ConvertFrom-Json)
        $written[0..1].instruction | Should -Be 'task 1', 'task 2'
        $written.Count | Should -BeLessThan 10
        $stats = Get-FakeLlmStats $server
        $stats.inFlight | Should -Be 0
        $stats.requests | Should -BeLessThan 10

        Set-FakeLlmConfig $server @{ latencyMs = 0 }   # keeps the attempt counts: row 3's transient failure is over
        $summary = Invoke-CodeInstructionToCode -Path $in -OutputPath $out @common -Resume
        $summary.Failed | Should -Be 0
        (Import-CodeGenData $out).instruction | Should -Be (1..40 | ForEach-Object { if ($_ -eq 3) { 'task 3 [[fake:status=500;times=1]]' } else { "task $_" } })
    }

    It 'treats an empty file as an empty run' {
        $in = Join-Path $folder 'empty.jsonl'
        New-Item -ItemType File -Path $in | Out-Null
        $summary = Invoke-CodeInstructionToCode -Path $in -OutputPath (Join-Path $folder 'out.jsonl') @common
        $summary.RowsRead | Should -Be 0
        Test-Path (Join-Path $folder 'out.jsonl') | Should -BeTrue
    }

    It 'writes nothing and sends nothing with -WhatIf' {
        $in = New-TaskFile (Join-Path $folder 'in.csv') 3
        Invoke-CodeInstructionToCode -Path $in -OutputPath (Join-Path $folder 'out.jsonl') @common -WhatIf | Should -BeNullOrEmpty
        Test-Path (Join-Path $folder 'out.jsonl') | Should -BeFalse
        (Get-FakeLlmStats $server).requests | Should -Be 0
    }

    It 'takes files from Get-ChildItem by property name and writes one output per file into a folder' {
        $null = New-TaskFile (Join-Path $folder 'a.csv') 2
        $null = New-TaskFile (Join-Path $folder 'b.csv') 3
        $outDir = Join-Path $folder 'out'
        New-Item -ItemType Directory -Path $outDir | Out-Null
        $summaries = @(Get-ChildItem -LiteralPath $folder -Filter *.csv | Invoke-CodeInstructionToCode -OutputPath $outDir -OutputFormat jsonl @common)
        $summaries.RowsRead | Should -Be 2, 3
        (Get-Content (Join-Path $outDir 'b.jsonl')).Count | Should -Be 3
    }
}

Describe 'Resume' {
    BeforeEach { Reset-Server; $folder = New-TestFolder }

    It 'continues after the writing pwsh is killed: every row once, in order, no second request for an answered row' {
        Reset-Server @{ latencyMs = 150 }
        $in = New-TaskFile (Join-Path $folder 'in.csv') 40
        $out = Join-Path $folder 'out.jsonl'
        $script = "Import-Module '$manifest'; Invoke-CodeInstructionToCode -Path '$in' -OutputPath '$out' -Endpoint '$($server.BaseUrl)' -Model m -ThrottleLimit 4"
        $child = Start-Process -FilePath 'dotnet' -ArgumentList @((Join-Path $PSHOME 'pwsh.dll'), '-NoProfile', '-NonInteractive', '-Command', $script) -PassThru
        try {
            $deadline = [DateTime]::UtcNow.AddSeconds(60)
            while ([DateTime]::UtcNow -lt $deadline -and -not ((Test-Path $out) -and (Get-Content $out).Count -ge 10)) { Start-Sleep -Milliseconds 20 }
            $child.Kill()   # SIGKILL: no cleanup runs in the child
            $child.WaitForExit()
        }
        finally { if (-not $child.HasExited) { $child.Kill() } }

        $answered = @(Get-Content -LiteralPath $out | ForEach-Object { try { $_ | ConvertFrom-Json } catch { } } |
                Where-Object generated_code | ForEach-Object instruction)
        $answered.Count | Should -BeGreaterOrEqual 10
        $answered.Count | Should -BeLessThan 40

        Reset-Server @{ latencyMs = 0 }
        $summary = Invoke-CodeInstructionToCode -Path $in -OutputPath $out @common -Resume
        $summary.SkippedByResume | Should -Be $answered.Count
        $summary.Generated | Should -Be (40 - $answered.Count)

        $rows = @(Import-CodeGenData -Path $out)
        $rows.instruction | Should -Be (1..40 | ForEach-Object { "task $_" })
        foreach ($row in $rows) { $row.generated_code | Should -Be (Get-FakeLlmCode $server $row.instruction) }
        $asked = @((Get-FakeLlmStats $server).answeredByTask.psobject.Properties.Name)
        # the rows not in the output are asked again, but for those whose answers the killed run's journal kept
        $asked.Count | Should -BeLessOrEqual (40 - $answered.Count)
        $asked | Where-Object { $_ -in $answered } | Should -BeNullOrEmpty
    }

    It 'asks again only for the rows that failed, and keeps input order' {
        $in = New-TaskFile (Join-Path $folder 'in.csv') 6 { if ($_ -in 2, 5) { "task $_ [[fake:status=503;times=1]]" } else { "task $_" } }
        $out = Join-Path $folder 'out.csv'
        (Invoke-CodeInstructionToCode -Path $in -OutputPath $out @common -ErrorAction SilentlyContinue).Failed | Should -Be 2
        $before = (Get-FakeLlmStats $server).requests
        $summary = Invoke-CodeInstructionToCode -Path $in -OutputPath $out @common -Resume
        $summary.Generated | Should -Be 2
        $summary.SkippedByResume | Should -Be 4
        (Get-FakeLlmStats $server).requests - $before | Should -Be 2
        $rows = @(Import-Csv -LiteralPath $out)
        $rows.id | Should -Be (1..6 | ForEach-Object { "$_" })
        $rows | ForEach-Object { $_.generated_code | Should -Not -BeNullOrEmpty }
    }

    It 'says when the output belongs to another input' {
        $out = Join-Path $folder 'out.jsonl'
        $null = Invoke-CodeInstructionToCode -Path (New-TaskFile (Join-Path $folder 'a.csv') 3) -OutputPath $out @common
        $other = New-TaskFile (Join-Path $folder 'b.csv') 3 { "other $_" }
        $caught = $null
        try { Invoke-CodeInstructionToCode -Path $other -OutputPath $out @common -Resume -ErrorAction Stop } catch { $caught = $_ }
        $caught.FullyQualifiedErrorId | Should -BeLike 'OutputDoesNotMatchInput,*'
        $caught.Exception.Message | Should -BeLike '*row 1 of the output*input changed*'
        $caught.ErrorDetails.RecommendedAction | Should -BeLike '*-Force*'
    }
}

Describe 'Step storage' {
    BeforeEach { Reset-Server; $folder = New-TestFolder }

    It 'chains two operators through step files, as DataFlow pipelines do' {
        $first = New-TaskFile (Join-Path $folder 'first.csv') 3
        $storage = New-CodeGenStorage -Path $first -CachePath (Join-Path $folder 'cache') -FileNamePrefix pipe -CacheType jsonl
        $storage.Step | Should -Be 0

        $one = Invoke-CodeInstructionToCode -Storage $storage @common
        $one.OutputPath | Should -Be (Join-Path $folder 'cache/pipe_step1.jsonl')
        $storage.Step | Should -Be 1

        $two = Invoke-CodeInstructionToCode -Storage $storage @common -InputKey generated_code -OutputKey review
        $two.InputPath | Should -Be (Join-Path $folder 'cache/pipe_step1.jsonl')
        $storage.Step | Should -Be 2
        $rows = @(Import-CodeGenData (Join-Path $folder 'cache/pipe_step2.jsonl'))
        $rows.Count | Should -Be 3
        $rows[0].review | Should -Be (Get-FakeLlmCode $server $rows[0].generated_code)
    }

    It 'stays on a step with failed rows, and a resumed run on the same storage finishes that step' {
        $first = New-TaskFile (Join-Path $folder 'first.csv') 4 { if ($_ -eq 3) { 'task 3 [[fake:status=500;times=1]]' } else { "task $_" } }
        $storage = New-CodeGenStorage -Path $first -CachePath (Join-Path $folder 'cache') -FileNamePrefix p
        $null = Invoke-CodeInstructionToCode -Storage $storage @common -ErrorAction SilentlyContinue -WarningVariable warnings -WarningAction SilentlyContinue
        $warnings[0] | Should -BeLike '*1 rows failed*step 0*-Resume*'
        $storage.Step | Should -Be 0
        $summary = Invoke-CodeInstructionToCode -Storage $storage @common -Resume
        $summary.Generated | Should -Be 1
        $storage.Step | Should -Be 1
        (Get-Content (Join-Path $folder 'cache/p_step1.jsonl')).Count | Should -Be 4
    }
}

Describe 'Import-CodeGenData and Export-CodeGenData' {
    BeforeEach { $folder = New-TestFolder }

    It 'imports CSV like Import-Csv and JSON Lines like ConvertFrom-Json' {
        $csv = Join-Path $folder 'a.csv'
        @([pscustomobject]@{ a = '1'; b = "x, `"y`"`nz" }, [pscustomobject]@{ a = '2'; b = 'ü' }) | Export-Csv -LiteralPath $csv
        $mine = @(Import-CodeGenData -Path $csv)
        $theirs = @(Import-Csv -LiteralPath $csv)
        ($mine | ConvertTo-Json) | Should -Be ($theirs | ConvertTo-Json)

        $jsonl = Join-Path $PSScriptRoot 'data/dataflow-examples/code_input.jsonl'
        $mine = @(Import-CodeGenData -Path $jsonl)
        $theirs = @(Get-Content -LiteralPath $jsonl | ConvertFrom-Json)
        $mine.Count | Should -Be $theirs.Count
        ($mine | ConvertTo-Json -Depth 5 -Compress) | Should -Be ($theirs | ConvertTo-Json -Depth 5 -Compress)
        $mine[0].line_count | Should -BeOfType [long]
    }

    It 'exports objects to <format> and imports them back unchanged' -TestCases @(@{ format = 'csv' }, @{ format = 'json' }, @{ format = 'jsonl' }) {
        $path = Join-Path $folder "out.$format"
        $rows = @([pscustomobject]@{ id = 1; text = "multi`nline, `"quoted`""; ok = $true }, [pscustomobject]@{ id = 2; text = '日本'; ok = $false })
        $rows | Export-CodeGenData -Path $path
        $back = @(Import-CodeGenData -Path $path)
        $back.Count | Should -Be 2
        $back[0].text | Should -Be "multi`nline, `"quoted`""
        $back[1].text | Should -Be '日本'
        if ($format -ne 'csv') {
            $back[0].id | Should -BeOfType [long]
            $back[1].ok | Should -BeFalse
        }
        else {
            $back[0].id | Should -Be '1'
            $back[0].ok | Should -Be 'true'
        }
    }

    It 'passes rows of 5,000 columns through unchanged, as Import-Csv | Export-Csv does' {
        $in = Join-Path $folder 'wide.csv'
        $lines = @('instruction,' + ((1..4999 | ForEach-Object { "col$_" }) -join ','))
        $lines += 1..2 | ForEach-Object { $r = $_; "task $r," + ((1..4999 | ForEach-Object { "v$r-$_" }) -join ',') }
        Set-Content -LiteralPath $in -Value $lines
        $mine = Join-Path $folder 'mine.csv'
        $theirs = Join-Path $folder 'theirs.csv'
        Import-CodeGenData -Path $in | Export-CodeGenData -Path $mine
        Import-Csv -LiteralPath $in | Export-Csv -LiteralPath $theirs -UseQuotes AsNeeded
        Get-Content -LiteralPath $mine | Should -Be (Get-Content -LiteralPath $theirs)
        Get-Content -LiteralPath $mine | Should -Be $lines
    }

    It 'keeps one field for names that differ only in case, the first name with the last value' {
        $row = [System.Collections.Specialized.OrderedDictionary]::new() # case-sensitive keys
        $row['id'] = 1; $row['Text'] = 'a'; $row['TEXT'] = 'b'; $row['text'] = 'c'
        $path = Join-Path $folder 'out.jsonl'
        $row | Export-CodeGenData -Path $path
        Get-Content -LiteralPath $path | Should -Be '{"id":1,"Text":"c"}'
    }

    It 'appends to CSV and JSONL with -Append and refuses to clobber with -NoClobber' -TestCases @(@{ format = 'csv' }, @{ format = 'jsonl' }) {
        $path = Join-Path $folder "out.$format"
        [pscustomobject]@{ a = 1; b = 'x' } | Export-CodeGenData -Path $path
        [pscustomobject]@{ a = 2; b = 'y' } | Export-CodeGenData -Path $path -Append
        (Import-CodeGenData -Path $path).b | Should -Be 'x', 'y'
        { [pscustomobject]@{ a = 3 } | Export-CodeGenData -Path $path -NoClobber } | Should -Throw -ErrorId 'OutputFileExists,*'
    }

    It 'writes what Invoke-CodeInstructionToCode file mode can read' {
        $path = Join-Path $folder 'tasks.jsonl'
        'task 1', 'task 2' | ForEach-Object { [pscustomobject]@{ instruction = $_ } } | Export-CodeGenData -Path $path
        Reset-FakeLlm $server
        (Invoke-CodeInstructionToCode -Path $path -OutputPath (Join-Path $folder 'out.csv') @common).Generated | Should -Be 2
    }
}
