# -Check, -MaxRepairs and Test-CodeGenCode as users meet them: code that comes back is parsed in its language
# (PowerShell, C#, JSON, Python, Bash), code that does not parse can be sent back to the model, and code that is
# already in a data set can be checked without a model.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $server = Start-FakeLlm
    $common = @{ Endpoint = $server.BaseUrl; Model = 'fake-model'; MaxRetries = 0 }
    $dataflow = Join-Path $PSScriptRoot 'data/dataflow-examples'

    function Invoke-WithoutProgram([string] $Program, [scriptblock] $Script) {
        # runs $Script with a PATH that holds everything but $Program (as on a machine without it)
        $folder = New-TestFolder
        $saved = $env:PATH
        try {
            foreach ($directory in $saved -split [IO.Path]::PathSeparator) {
                if (-not $directory -or -not (Test-Path -LiteralPath $directory -PathType Container)) { continue }
                foreach ($file in Get-ChildItem -LiteralPath $directory -File -ErrorAction SilentlyContinue) {
                    $link = Join-Path $folder $file.Name
                    if ($file.Name -ne $Program -and -not (Test-Path -LiteralPath $link)) { $null = New-Item -ItemType SymbolicLink -Path $link -Target $file.FullName }
                }
            }
            $env:PATH = $folder
            & $Script
        }
        finally { $env:PATH = $saved }
    }
}

AfterAll {
    if ($server) { Stop-FakeLlm $server }
    Restore-EndpointEnvironment
}

Describe 'Invoke-CodeInstructionToCode -Check' {
    BeforeEach { Reset-FakeLlm $server }

    It 'marks PowerShell that parses ok and PowerShell that does not failed, with the parser''s line and column' {
        $rows = 'List the services', 'Broken one [[fake:style=broken]]' | Invoke-CodeInstructionToCode @common -Language PowerShell -Check -ErrorAction Stop
        $rows.generated_code_check | Should -Be 'ok', 'failed'
        $rows[0].generated_code_check_detail | Should -BeNullOrEmpty
        $rows[1].generated_code_check_detail | Should -Match '^line \d+, column \d+: '
        # the filter users write: only code that parses goes on
        @($rows | Where-Object generated_code_check -eq ok).instruction | Should -Be 'List the services'
    }

    It 'checks in the language of the answer''s code block when no -Language is given, and says unchecked for a language without a checker' {
        $rows = 'task 1', 'task 2 [[fake:style=unparsable]]' | Invoke-CodeInstructionToCode @common -Check
        $rows.generated_code_check | Should -Be 'ok', 'failed' # the fake fences Python
        $rows[1].generated_code_check_detail | Should -BeLike 'line 3, column *: *' # the wording is the Python version's
        $ruby = 'task 3' | Invoke-CodeInstructionToCode @common -Check -Language Ruby
        $ruby.generated_code_check | Should -Be 'unchecked'
        $ruby.generated_code_check_detail | Should -BeLike "*no checker for 'Ruby'*"
    }

    It 'checks the code block of a whole answer kept with -Raw, not the prose around it' {
        $row = 'task 1' | Invoke-CodeInstructionToCode @common -Raw -Check
        $row.generated_code | Should -BeLike 'Here is the code.*It is a placeholder.' # the whole answer is kept
        $row.generated_code_check | Should -Be 'ok'
    }

    It 'says unchecked, and why, for Python rows on a machine without python3' {
        $row = Invoke-WithoutProgram 'python3' { 'task 1' | Invoke-CodeInstructionToCode @common -Check -Language Python }
        $row.generated_code | Should -Not -BeNullOrEmpty
        $row.generated_code_check | Should -Be 'unchecked'
        $row.generated_code_check_detail | Should -BeLike '*python3 could not be started*'
    }

    It 'says unchecked, and why, for Bash rows on a machine without bash' {
        $row = Invoke-WithoutProgram 'bash' { 'task 1' | Invoke-CodeInstructionToCode @common -Check -Language Bash }
        $row.generated_code_check | Should -Be 'unchecked'
        $row.generated_code_check_detail | Should -BeLike '*bash could not be started*'
    }

    It 'repairs a broken answer with -MaxRepairs: the conversation goes back with the parser''s message, and the repaired code is kept' {
        $verbose = $null
        $row = 'task 1 [[fake:style=unparsable]]' | Invoke-CodeInstructionToCode @common -MaxRepairs 2 -IncludeUsage -Verbose 4>&1 |
            Tee-Object -Variable verbose | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }
        $row.generated_code_check | Should -Be 'ok'
        $row.generated_code | Should -Not -BeLike '*def broken(:*'
        (Get-FakeLlmStats $server).requests | Should -Be 2
        $row.generated_code_total_tokens | Should -BeGreaterThan 0
        ($verbose | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] -and $_.Message -like 'Invoke-CodeInstructionToCode: *' }).Message |
            Should -BeLike '*Checked 1: 1 ok, 0 failed, 0 unchecked; 1 repaired with 1 repair requests.*'
    }

    It 'keeps the last code and its failed check when the repairs run out' {
        $row = 'task 1 [[fake:style=unfixable]]' | Invoke-CodeInstructionToCode @common -MaxRepairs 2
        $row.generated_code_check | Should -Be 'failed'
        $row.generated_code | Should -BeLike '*def broken(:*'
        (Get-FakeLlmStats $server).requests | Should -Be 3
    }

    It 'writes the check columns in file mode and counts them in the summary' {
        $folder = New-TestFolder
        'task 1', 'task 2 [[fake:style=unfixable]]', 'task 3 [[fake:style=unparsable]]' | ForEach-Object { [pscustomobject]@{ instruction = $_ } } |
            Export-Csv -LiteralPath "$folder/in.csv"
        $summary = Invoke-CodeInstructionToCode -Path "$folder/in.csv" -OutputPath "$folder/out.csv" @common -MaxRepairs 1
        ($summary.CheckOk, $summary.CheckFailed, $summary.Unchecked, $summary.Repaired, $summary.RepairRequests) | Should -Be 2, 1, 0, 1, 2
        (Import-Csv "$folder/out.csv").generated_code_check | Should -Be 'ok', 'failed', 'ok'
    }

    It 'checks the answers a batch brings back, and says that a merge cannot repair' {
        $folder = New-TestFolder
        'task 1', 'task 2 [[fake:style=unparsable]]' | ForEach-Object { [pscustomobject]@{ instruction = $_ } } | Export-Csv -LiteralPath "$folder/in.csv"
        $warnings = @()
        $summary = Invoke-CodeInstructionToCode -Path "$folder/in.csv" -OutputPath "$folder/out.csv" @common -Batch -PollIntervalSec 0.05 -MaxRepairs 1 -WarningVariable warnings -WarningAction SilentlyContinue
        "$warnings" | Should -BeLike '*-MaxRepairs has no effect with -Batch*'
        ($summary.CheckOk, $summary.CheckFailed, $summary.RepairRequests) | Should -Be 1, 1, 0
        (Import-Csv "$folder/out.csv").generated_code_check | Should -Be 'ok', 'failed'
    }
}

Describe 'Import-CodeGenBatchResult -Check' {
    It 'checks each merged row' {
        $folder = New-TestFolder
        [pscustomobject]@{ instruction = 'x' }, [pscustomobject]@{ instruction = 'y' } | Export-Csv -LiteralPath "$folder/in.csv"
        $requests = Export-CodeGenBatch -Path "$folder/in.csv" -OutFile "$folder/requests.jsonl" -Model fake-model
        $lines = Get-Content -LiteralPath $requests[0].Path | ConvertFrom-Json
        $answers = "``````powershell`nGet-Process`n``````", "``````powershell`nGet-Process | Where-Object {`n``````"
        $results = for ($i = 0; $i -lt 2; $i++) {
            @{ custom_id = $lines[$i].custom_id; response = @{ status_code = 200; body = @{ choices = @(@{ message = @{ role = 'assistant'; content = $answers[$i] }; finish_reason = 'stop' }) } } } | ConvertTo-Json -Depth 10 -Compress
        }
        $results | Set-Content -LiteralPath "$folder/results.jsonl"
        $summary = Import-CodeGenBatchResult -Path "$folder/in.csv" -ResultPath "$folder/results.jsonl" -OutputPath "$folder/out.csv" -Check
        ($summary.CheckOk, $summary.CheckFailed) | Should -Be 1, 1
        (Import-Csv "$folder/out.csv").generated_code_check | Should -Be 'ok', 'failed'
    }
}

Describe 'Test-CodeGenCode' {
    It 'checks each language''s ok, failed and unchecked paths: <Language>' -ForEach @(
        @{ Language = 'PowerShell'; Good = 'Get-ChildItem -File | Sort-Object Length'; Bad = 'if ($x) { "open"' }
        @{ Language = 'C#'; Good = "var total = 0;`nforeach (var n in new[] { 1, 2 }) total += n;`nConsole.WriteLine(total);"; Bad = 'class A { void M() { int x = ; } }' }
        @{ Language = 'JSON'; Good = '{"name": "web", "replicas": 2}'; Bad = '{"name": "web",}' }
        @{ Language = 'Python'; Good = "def add(a, b):`n    return a + b"; Bad = "def add(a, b)`n    return a + b" }
        @{ Language = 'Bash'; Good = "for f in *.log; do gzip `"`$f`"; done"; Bad = "if true; then echo yes" }
    ) {
        $rows = $Good, $Bad | Test-CodeGenCode -Language $Language
        $rows.generated_code_check | Should -Be 'ok', 'failed'
        $rows[1].generated_code_check_detail | Should -Not -BeNullOrEmpty
        $rows[0].generated_code | Should -Be $Good
    }

    It 'checks a real data set from a file, naming the rows that do not parse' {
        $rows = Test-CodeGenCode -Path (Join-Path $dataflow 'code_input.jsonl') -CodeKey text -Language Python
        $rows | Should -HaveCount 8
        ($rows | Where-Object text_check -eq failed).id | Should -Be 'html_001', 'readme_001'
        ($rows | Where-Object id -eq 'html_001').text_check_detail | Should -BeLike 'line 1, column 1: *'
        @(Test-CodeGenCode -Path (Join-Path $dataflow 'code_synthesis_input.jsonl') -CodeKey raw_code -Language Python | Where-Object raw_code_check -ne ok) | Should -BeNullOrEmpty
    }

    It 'takes the language from a fenced block when the field holds a whole answer, and says unchecked without a language' {
        $rows = [pscustomobject]@{ generated_code = "Here:`n``````json`n{`"a`": 1}`n``````" }, [pscustomobject]@{ generated_code = 'x = 1' }, [pscustomobject]@{ other = 1 } | Test-CodeGenCode
        $rows.generated_code_check | Should -Be 'ok', 'unchecked', 'unchecked'
        $rows[1].generated_code_check_detail | Should -BeLike 'no language*'
        $rows[2].generated_code_check_detail | Should -BeLike "*no code in 'generated_code'*"
    }

    It 'never runs the code it checks' {
        $folder = New-TestFolder
        $marker = Join-Path $folder 'ran'
        $rows = "Set-Content -LiteralPath '$marker' -Value x", "open('$marker', 'w')", "touch '$marker'" |
            ForEach-Object -Begin { $i = 0 } -Process { [pscustomobject]@{ generated_code = $_; lang = ('PowerShell', 'Python', 'Bash')[$i++] } } |
            ForEach-Object { $_ | Test-CodeGenCode -Language $_.lang }
        $rows.generated_code_check | Should -Be 'ok', 'ok', 'ok'
        Test-Path -LiteralPath $marker | Should -BeFalse
    }
}

Describe 'Each row in its own language: -Language ''{language}''' {
    BeforeAll {
        # DataFlow's code data set: Python rows, an HTML row and a Text row, each naming its language in 'language'
        $script:CodeInput = Join-Path $dataflow 'code_input.jsonl'
        $script:Languages = @(Get-Content -LiteralPath $CodeInput | ConvertFrom-Json).language
        Set-FakeLlmConfig $server @{ recordRequests = $true }
    }
    AfterAll { Set-FakeLlmConfig $server @{} }
    BeforeEach { Reset-FakeLlm $server }

    It 'asks each DataFlow row for its own language and checks its code as that language' {
        $rows = Get-Content -LiteralPath $CodeInput | ConvertFrom-Json |
            Invoke-CodeInstructionToCode @common -InputKey text -OutputKey solution -Language '{language}' -Check -ThrottleLimit 1 -ErrorAction Stop

        $rows | Should -HaveCount $Languages.Count
        $prompts = @((Get-FakeLlmStats $server).requestBodies | ForEach-Object { ($_ | ConvertFrom-Json).messages[0].content })
        for ($i = 0; $i -lt $rows.Count; $i++) {
            $prompts[$i] | Should -BeLike "*Write $($Languages[$i]) code that carries it out*"
            if ($Languages[$i] -eq 'Python') {
                $rows[$i].solution_check | Should -Be 'ok'
            }
            else {
                # HTML and Text: no checker, as with -Language HTML; the answer's python fence does not decide
                $rows[$i].solution_check | Should -Be 'unchecked'
                $rows[$i].solution_check_detail | Should -BeLike "no checker for '$($Languages[$i])'*"
            }
        }
    }

    It 'takes -Language {language} written without quotes (a script block to PowerShell) as the column' {
        $row = [pscustomobject]@{ instruction = 'add two numbers'; language = 'Python' }
        $out = $row | Invoke-CodeInstructionToCode @common -Language {language} -Check -ErrorAction Stop
        (@((Get-FakeLlmStats $server).requestBodies)[0] | ConvertFrom-Json).messages[0].content | Should -BeLike '*Write Python code that carries it out*'
        $out.generated_code_check | Should -Be 'ok'
        $checked = [pscustomobject]@{ generated_code = 'def f(:'; language = 'Python' } | Test-CodeGenCode -Language {language}
        $checked.generated_code_check | Should -Be 'failed'
        $checked.generated_code_check_detail | Should -BeLike 'line 1, column 7: *'
    }

    It 'counts each row''s check in a file run''s summary' {
        $out = Join-Path (New-TestFolder) 'out.jsonl'
        $summary = Invoke-CodeInstructionToCode @common -Path $CodeInput -OutputPath $out -InputKey text -Language '{language}' -Check
        $summary.Generated | Should -Be $Languages.Count
        $summary.CheckOk | Should -Be @($Languages -eq 'Python').Count
        $summary.Unchecked | Should -Be @($Languages -ne 'Python').Count
    }

    It 'fails a row without the column as TemplateColumnMissing, and goes on with the others' {
        $rows = [pscustomobject]@{ id = 1; instruction = 'sort a list' }, [pscustomobject]@{ id = 2; instruction = 'sort a list'; language = 'Bash' } |
            Invoke-CodeInstructionToCode @common -Language '{language}' -Check -ErrorVariable failures -ErrorAction SilentlyContinue
        $failures | Should -HaveCount 1
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'TemplateColumnMissing,*'
        $failures[0].Exception.Message | Should -Be "Row 1: -Language '{language}' uses '{language}' but the row has no 'language' field."
        $failures[0].ErrorDetails.RecommendedAction | Should -BeLike '*-Language*'
        $rows[0].generated_code | Should -BeNullOrEmpty
        $rows[1].generated_code_check | Should -Be 'ok'
        (Get-FakeLlmStats $server).requests | Should -Be 1
    }

    It 'refuses a -Language whose brace closes nothing before anything is sent' {
        { 'sort a list' | Invoke-CodeInstructionToCode @common -Language '{language' -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidLanguage,*'
        (Get-FakeLlmStats $server).requests | Should -Be 0
    }

    It 'writes each row''s own language into a batch file''s requests' {
        $out = Join-Path (New-TestFolder) 'requests.jsonl'
        $file = Get-Content -LiteralPath $CodeInput | ConvertFrom-Json | Export-CodeGenBatch -OutFile $out -Model gpt-4o-mini -InputKey text -Language '{language}'
        $file.Requests | Should -Be $Languages.Count
        $prompts = @(Get-Content -LiteralPath $out | ForEach-Object { ($_ | ConvertFrom-Json).body.messages[0].content })
        for ($i = 0; $i -lt $prompts.Count; $i++) { $prompts[$i] | Should -BeLike "*Write $($Languages[$i]) code that carries it out*" }
    }

    It 'checks code already in rows in each row''s language with Test-CodeGenCode' {
        $rows = Test-CodeGenCode -Path $CodeInput -CodeKey text -Language '{language}'
        ($rows | Where-Object language -eq 'Python').text_check | Sort-Object -Unique | Should -Be 'ok'
        ($rows | Where-Object id -eq 'html_001').text_check_detail | Should -BeLike "no checker for 'HTML'*"
        ($rows | Where-Object id -eq 'readme_001').text_check | Should -Be 'unchecked'
    }
}

Describe 'Test-CodeGenCode on source files' {
    BeforeAll {
        $script:Folder = New-TestFolder
        $scripts = New-Item -ItemType Directory -Path (Join-Path $Folder 'scripts')
        Set-Content -LiteralPath (Join-Path $scripts 'bad.ps1') -Value 'Get-ChildItem | Where-Object {'
        Set-Content -LiteralPath (Join-Path $scripts 'good.psm1') -Value "function Get-Size([long] `$Bytes) { '{0:N1} MB' -f (`$Bytes / 1MB) }"
        Set-Content -LiteralPath (Join-Path $scripts 'deploy.sh') -Value "for f in *.log; do`n  gzip `"`$f`"`ndone"
        Set-Content -LiteralPath (Join-Path $scripts 'parse.py') -Value "def parse(text)`n    return text"
        Set-Content -LiteralPath (Join-Path $scripts 'Program.cs') -Value 'class Program { static void Main() { System.Console.WriteLine(1); } }'
        Set-Content -LiteralPath (Join-Path $scripts 'settings.json') -Value '{"replicas": 2,}'
        Set-Content -LiteralPath (Join-Path $scripts 'notes.txt') -Value 'print("not code")'
        Push-Location $Folder
    }
    AfterAll { Pop-Location }

    It 'checks one file by -Path, with its path, language, verdict and the parser''s message' {
        $result = Test-CodeGenCode -Path ./scripts/bad.ps1
        $result | Should -HaveCount 1
        $result.Path | Should -Be (Join-Path $Folder 'scripts/bad.ps1')
        $result.Language | Should -Be 'powershell'
        $result.Check | Should -Be 'failed'
        $result.Detail | Should -BeLike "line 1, column *: Missing closing '}'*"
    }

    It 'checks every file Get-ChildItem pipes, each in the language of its extension, and reports a file of unknown extension as an error' {
        $results = Get-ChildItem ./scripts -File | Test-CodeGenCode -ErrorVariable failures -ErrorAction SilentlyContinue
        $succeeded = $?
        $results | ForEach-Object { '{0} {1} {2}' -f (Split-Path $_.Path -Leaf), $_.Language, $_.Check } | Should -Be @(
            'bad.ps1 powershell failed'
            'deploy.sh bash ok'
            'good.psm1 powershell ok'
            'parse.py python failed'
            'Program.cs csharp ok'
            'settings.json json failed'
        )
        ($results | Where-Object Check -eq failed).Detail | Should -Not -Contain $null
        $succeeded | Should -BeFalse
        $failures | Should -HaveCount 1
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'UnknownCodeLanguage,*'
        $failures[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        $failures[0].TargetObject | Should -Be (Join-Path $Folder 'scripts/notes.txt')
        $failures[0].Exception.Message | Should -BeLike "*notes.txt: cannot tell the language of the code from the extension '.txt'*"
        $failures[0].ErrorDetails.RecommendedAction | Should -BeLike 'Pass -Language*'
    }

    It 'expands wildcards, and -Language overrides the extension' {
        (Test-CodeGenCode -Path ./scripts/*.ps*1).Path | Split-Path -Leaf | Should -Be 'bad.ps1', 'good.psm1'
        $text = Test-CodeGenCode -Path ./scripts/notes.txt -Language Python
        $text.Language | Should -Be 'python'
        $text.Check | Should -Be 'ok'
        (Test-CodeGenCode -Path ./scripts/bad.ps1 -Language Bash).Language | Should -Be 'bash'
    }

    It 'reports a missing file and a pattern that matches nothing as errors, and checks the others' {
        $results = Test-CodeGenCode -Path ./scripts/missing.ps1, ./nothing/*.py, ./scripts/good.psm1 -ErrorVariable failures -ErrorAction SilentlyContinue
        $results.Check | Should -Be 'ok'
        $failures.FullyQualifiedErrorId | ForEach-Object { ($_ -split ',')[0] } | Should -Be 'DataFileNotFound', 'DataFileNotFound'
    }

    It 'still reads a .json file of rows, as a run writes it, as rows' {
        $rows = Join-Path $Folder 'generated.json'
        ConvertTo-Json -InputObject @([pscustomobject]@{ id = 1; generated_code = 'Get-Date' }, [pscustomobject]@{ id = 2; generated_code = 'if (' }) | Set-Content -LiteralPath $rows
        (Test-CodeGenCode -Path $rows -Language PowerShell).generated_code_check | Should -Be 'ok', 'failed'
    }

    It 'fails a CI build on any file that does not parse, in one line' {
        { if (Get-ChildItem ./scripts -File -Include *.ps1, *.psm1, *.py -Recurse | Test-CodeGenCode | Where-Object Check -eq failed) { throw 'Some scripts do not parse.' } } |
            Should -Throw 'Some scripts do not parse.'
    }
}
