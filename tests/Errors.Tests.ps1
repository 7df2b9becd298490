# What a script sees of CodeGen's errors, the way ops scripts look at them: -ErrorVariable, try/catch, $Error[0]
# and -ErrorAction Stop. Every record carries its id, category, message and recommendation, and no stack trace.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $server = Start-FakeLlm
    $common = @{ Endpoint = $server.BaseUrl; Model = 'fake-model'; MaxRetries = 0 }

    # Runs $Call (which passes -ErrorVariable ev) and returns what a script can look at afterwards.
    function Get-Stop([scriptblock] $Call) {
        $Error.Clear()
        $ev = $null
        $caught = $null
        $output = [System.Collections.Generic.List[object]]::new()
        try { . $Call | ForEach-Object { $output.Add($_) } } catch { $caught = $_ }
        [pscustomobject]@{ Caught = $caught; Ev = @($ev); Error0 = $Error[0]; Output = $output }
    }

    # A record (or what -ErrorVariable holds for a stop) as a script reads it.
    function Assert-Record($Item, [string] $Id, [System.Management.Automation.ErrorCategory] $Category, [string] $Like) {
        $Item | Should -Not -BeNullOrEmpty
        $Item.FullyQualifiedErrorId | Should -Match "^$Id(,|$)"
        $Item.CategoryInfo.Category | Should -Be $Category
        $Item.ErrorDetails.RecommendedAction | Should -Not -BeNullOrEmpty
        $Item.Exception.Message | Should -Not -BeNullOrEmpty
        $text = "$Item"
        $text | Should -BeLike $Like
        $text | Should -Be $Item.ErrorDetails.Message
        foreach ($shown in $text, ($Item | Out-String -Width 400)) {
            $shown | Should -Not -Match '(?m)^\s+at |\.cs:line \d|End of inner exception|CmdletInvocationException|ActionPreferenceStopException'
        }
    }

    # A script's view of a stop, in every place it can look.
    function Assert-Stop($Stop, [string] $Id, [System.Management.Automation.ErrorCategory] $Category, [string] $Like) {
        Assert-Record $Stop.Caught $Id $Category $Like
        Assert-Record $Stop.Error0 $Id $Category $Like
        Assert-Record $Stop.Ev[-1] $Id $Category $Like
        $Stop.Ev[-1].InvocationInfo.MyCommand.Name | Should -Be $Stop.Caught.InvocationInfo.MyCommand.Name
    }

    function Get-FreePort {
        $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
        $listener.Start()
        try { $listener.LocalEndpoint.Port } finally { $listener.Stop() }
    }
}

AfterAll {
    Clear-CodeGenEndpoint
    if ($server) { Stop-FakeLlm $server }
    Restore-EndpointEnvironment
}

Describe 'A down endpoint' {
    BeforeAll {
        $port = Get-FreePort
        $folder = New-TestFolder
        $tasks = Join-Path $folder 'tasks.csv'
        1..40 | ForEach-Object { [pscustomobject]@{ id = $_; instruction = "task $_" } } | Export-Csv -LiteralPath $tasks
        $down = @{ Endpoint = "http://127.0.0.1:$port/v1"; Model = 'qwen2.5-coder:7b' }
        $cause = "*failed most of its recent requests (the last: *refused*127.0.0.1:$port*), so the circuit breaker stopped sending*"
    }

    It 'stops naming the cause, and reports every row that failed before the stop (pipeline)' {
        $stop = Get-Stop { Import-Csv $tasks | Invoke-CodeInstructionToCode @down -ErrorVariable ev -ErrorAction SilentlyContinue }
        Assert-Stop $stop 'LlmCircuitOpen' ResourceUnavailable "Stopped at row *, because every other row would fail the same way: $cause"
        $stoppedAt = [int]($stop.Caught.Exception.Message -replace '^Stopped at row (\d+),.*$', '$1')
        $stoppedAt | Should -BeGreaterThan 1
        # every row up to the stop comes out, in order, without code and with the reason; each before it is an error record
        $stop.Output.id | Should -Be (1..$stoppedAt | ForEach-Object { "$_" })
        $stop.Output | ForEach-Object { $_.generated_code | Should -BeNullOrEmpty; $_.generated_code_error | Should -BeLike "LlmCircuitOpen: *$port*" }
        $stop.Ev.Count | Should -Be $stoppedAt
        for ($i = 0; $i -lt $stoppedAt - 1; $i++) {
            $stop.Ev[$i] | Should -BeOfType System.Management.Automation.ErrorRecord
            Assert-Record $stop.Ev[$i] 'LlmCircuitOpen' ResourceUnavailable "Row $($i + 1): not answered: the run stopped, because $cause"
            $stop.Ev[$i].TargetObject.id | Should -Be "$($i + 1)"
        }
    }

    It 'stops naming the cause in file mode too, with -Verbose, and writes the rows before the stop with their reason' {
        $generated = Join-Path $folder 'generated.jsonl'
        $stop = Get-Stop { Invoke-CodeInstructionToCode -Path $tasks -OutputPath $generated @down -Verbose -ErrorVariable ev -ErrorAction SilentlyContinue 4>$null }
        Assert-Stop $stop 'LlmCircuitOpen' ResourceUnavailable "Stopped at row *, because every other row would fail the same way: $cause"
        $stoppedAt = [int]($stop.Caught.Exception.Message -replace '^Stopped at row (\d+),.*$', '$1')
        # every row up to the stop is written, in order, without code and with the reason (rows after it that had
        # already failed may follow: the output stays in input order, and -Resume asks again for all of them)
        $written = @(Import-CodeGenData $generated)
        $written.Count | Should -BeGreaterOrEqual $stoppedAt
        $written.id | Should -Be (1..$written.Count | ForEach-Object { "$_" })
        $written | ForEach-Object { $_.generated_code | Should -BeNullOrEmpty; $_.generated_code_error | Should -BeLike "LlmCircuitOpen: *$port*" }
        $stop.Ev.Count | Should -BeGreaterOrEqual $stoppedAt
        $stop.Ev[0..($stoppedAt - 2)].TargetObject.id | Should -Be (1..($stoppedAt - 1) | ForEach-Object { "$_" })
        $stop.Ev | Select-Object -SkipLast 1 | ForEach-Object { Assert-Record $_ 'LlmCircuitOpen' ResourceUnavailable "Row *: * $cause" }
    }

    It 'stops at the first row with -ErrorAction Stop, with the same record everywhere' {
        $stop = Get-Stop { Import-Csv $tasks | Invoke-CodeInstructionToCode @down -ErrorVariable ev -ErrorAction Stop }
        Assert-Stop $stop 'LlmCircuitOpen' ResourceUnavailable "Row 1: not answered: the run stopped, because $cause"
        $stop.Ev.Count | Should -Be 1
    }
}

Describe 'Error records in every place a script looks' {
    BeforeEach { Set-FakeLlmConfig $server @{}; Reset-FakeLlm $server; Clear-CodeGenEndpoint }

    It 'a missing input column: a row error, and a stop under -ErrorAction Stop' {
        $stop = Get-Stop { [pscustomobject]@{ prompt = 'x' }, [pscustomobject]@{ instruction = 'task 2' } | Invoke-CodeInstructionToCode @common -ErrorVariable ev -ErrorAction SilentlyContinue }
        $stop.Caught | Should -BeNullOrEmpty
        $stop.Output.Count | Should -Be 2
        $stop.Ev.Count | Should -Be 1
        Assert-Record $stop.Ev[0] 'MissingInputColumn' ObjectNotFound 'Row 1: *'
        Assert-Record $stop.Error0 'MissingInputColumn' ObjectNotFound 'Row 1: *'

        $stop = Get-Stop { [pscustomobject]@{ prompt = 'x' }, [pscustomobject]@{ instruction = 'task 2' } | Invoke-CodeInstructionToCode @common -ErrorVariable ev -ErrorAction Stop }
        Assert-Stop $stop 'MissingInputColumn' ObjectNotFound 'Row 1: *'
        $stop.Ev.Count | Should -Be 1
        $stop.Caught.TargetObject.prompt | Should -Be 'x'

        $stop = Get-Stop { $ErrorActionPreference = 'Stop'; [pscustomobject]@{ prompt = 'x' } | Invoke-CodeInstructionToCode @common -ErrorVariable ev }
        Assert-Stop $stop 'MissingInputColumn' ObjectNotFound 'Row 1: *'
    }

    It 'a missing input column in a file: a stop before any request' {
        $folder = New-TestFolder
        Set-Content -LiteralPath (Join-Path $folder 'in.csv') -Value 'prompt', 'x'
        $stop = Get-Stop { Invoke-CodeInstructionToCode -Path (Join-Path $folder 'in.csv') -OutputPath (Join-Path $folder 'out.jsonl') @common -ErrorVariable ev }
        Assert-Stop $stop 'MissingInputColumn' ObjectNotFound '*instruction*'
        (Get-FakeLlmStats $server).requests | Should -Be 0
    }

    It 'an output that exists: a stop, and an output column that exists: a row error' {
        $folder = New-TestFolder
        Set-Content -LiteralPath (Join-Path $folder 'in.csv') -Value 'instruction', 'task 1'
        Set-Content -LiteralPath (Join-Path $folder 'out.jsonl') -Value '{}'
        $stop = Get-Stop { Invoke-CodeInstructionToCode -Path (Join-Path $folder 'in.csv') -OutputPath (Join-Path $folder 'out.jsonl') @common -ErrorVariable ev }
        Assert-Stop $stop 'OutputFileExists' ResourceExists '*already exists*'
        $stop.Caught.ErrorDetails.RecommendedAction | Should -BeLike '*-Resume*-Force*'

        $stop = Get-Stop { [pscustomobject]@{ instruction = 'task 1'; generated_code = 'x' } | Invoke-CodeInstructionToCode @common -ErrorVariable ev -ErrorAction Stop }
        Assert-Stop $stop 'OutputColumnExists' ResourceExists 'Row 1: *'
    }

    It 'a fatal HTTP error (401): a stop' {
        Set-FakeLlmConfig $server @{ status = 401 }
        foreach ($action in 'Continue', 'Stop') {
            $stop = Get-Stop { 'task 1' | Invoke-CodeInstructionToCode @common -ErrorVariable ev -ErrorAction $action }
            Assert-Stop $stop 'LlmHttpError' AuthenticationError 'Stopped at row 1, because every other row would fail the same way: the server answered 401 Unauthorized*'
        }
    }

    It 'a bad data file: a stop that names the file and line' {
        $folder = New-TestFolder
        Set-Content -LiteralPath (Join-Path $folder 'in.jsonl') -Value '{"instruction":"task 1"}', '{"instruction": oops}'
        $stop = Get-Stop { Invoke-CodeInstructionToCode -Path (Join-Path $folder 'in.jsonl') -OutputPath (Join-Path $folder 'out.jsonl') @common -ErrorVariable ev }
        $stop.Caught.FullyQualifiedErrorId | Should -Match '^MalformedDataFile,'
        $stop.Caught.CategoryInfo.Category | Should -Be InvalidData
        foreach ($item in $stop.Caught, $stop.Error0, $stop.Ev[-1]) {
            "$item" | Should -BeLike '*in.jsonl, line 2*'
            "$item" | Should -Not -Match '(?m)^\s+at |\.cs:line \d'
            $item.FullyQualifiedErrorId | Should -Match '^MalformedDataFile,'
        }
        $stop = Get-Stop { Import-CodeGenData (Join-Path $folder 'in.jsonl') -ErrorVariable ev }
        $stop.Output.Count | Should -Be 1
        foreach ($item in $stop.Caught, $stop.Error0, $stop.Ev[-1]) {
            $item.FullyQualifiedErrorId | Should -Match '^MalformedDataFile,'
            "$item" | Should -Not -Match '(?m)^\s+at |\.cs:line \d'
        }
    }

    It 'a cancelled run (Ctrl+C) ends without an error record' {
        Set-FakeLlmConfig $server @{ latencyMs = 60000 }
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript("Import-Module '$(Join-Path $RepoRoot 'CodeGen.psd1')'; 'task 1', 'task 2' | Invoke-CodeInstructionToCode -Endpoint '$($server.BaseUrl)' -Model fake-model")
            $null = $ps.BeginInvoke()
            $deadline = [datetime]::UtcNow.AddSeconds(60)
            while ((Get-FakeLlmStats $server).requests -lt 2 -and [datetime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 20 }
            (Get-FakeLlmStats $server).requests | Should -Be 2   # both requests are out: the stop aborts them
            $ps.Stop()
            $ps.InvocationStateInfo.State | Should -Be 'Stopped'
            @($ps.Streams.Error).Count | Should -Be 0
        }
        finally { $ps.Dispose() }
    }

    It 'a stop before any request (parameters that do not go together, a bad template) carries its id and advice too' {
        $stop = Get-Stop { 'task 1' | Invoke-CodeInstructionToCode @common -PromptTemplate 'Write {instruction' -ErrorVariable ev }
        Assert-Stop $stop 'InvalidPromptTemplate' InvalidArgument '*'
        $stop.Caught.ErrorDetails.RecommendedAction | Should -BeLike '*-PromptTemplate*'
        $stop = Get-Stop { Invoke-CodeInstructionToCode -Path in.csv -OutputPath out.csv @common -Resume -Force -ErrorVariable ev }
        Assert-Stop $stop 'ResumeAndForce' InvalidArgument '-Resume continues an existing output and -Force replaces it*'
        (Get-FakeLlmStats $server).requests | Should -Be 0
    }
}

Describe 'The other commands stop the same way' {
    BeforeEach { Clear-CodeGenEndpoint; $folder = New-TestFolder }

    It '<Name>' -ForEach @(
        @{ Name = 'Get-CodeGenBatch of an output with no job'; Id = 'BatchJobNotFound'; Category = 'ObjectNotFound'; Like = 'There is no batch job for *'
            Call = { param($f) Get-CodeGenBatch -OutputPath "$f/none.csv" -ErrorVariable ev -ErrorAction Stop } }
        @{ Name = 'Export-CodeGenData -NoClobber over a file'; Id = 'OutputFileExists'; Category = 'ResourceExists'; Like = '*already exists and -NoClobber was given.'
            Call = { param($f) 'x' | Set-Content "$f/rows.csv"; [pscustomobject]@{ a = 1 } | Export-CodeGenData -Path "$f/rows.csv" -NoClobber -ErrorVariable ev -ErrorAction Stop } }
        @{ Name = 'Set-CodeGenEndpoint with two ways to sign in'; Id = 'ConflictingCredentials'; Category = 'InvalidArgument'; Like = '*three ways to sign in: pass one.'
            Call = { param($f) Set-CodeGenEndpoint -ApiKey 'sk-one-0000' -Token 'tok-two-0000' -ErrorVariable ev -ErrorAction Stop } }
        @{ Name = 'Set-CodeGenEndpoint with a body it cannot send'; Id = 'InvalidAdditionalBody'; Category = 'InvalidArgument'; Like = '*'
            Call = { param($f) Set-CodeGenEndpoint -AdditionalBody @{ when = [datetime]::Now; handle = [System.IO.Stream]::Null } -ErrorVariable ev -ErrorAction Stop } }
        @{ Name = 'Import-CodeGenBatchResult of a pattern that matches nothing'; Id = 'DataFileNotFound'; Category = 'ObjectNotFound'; Like = '*matches no file.'
            Call = { param($f) Import-CodeGenBatchResult -Path "$f/in.csv" -ResultPath "$f/none*.jsonl" -OutputPath "$f/out.csv" -ErrorVariable ev -ErrorAction Stop } }
        @{ Name = 'New-CodeGenStorage of a file that does not exist'; Id = 'DataFileNotFound'; Category = 'ObjectNotFound'; Like = 'The first entry file * does not exist.'
            Call = { param($f) New-CodeGenStorage -Path "$f/none.jsonl" -CachePath "$f/cache" -ErrorVariable ev -ErrorAction Stop } }
        @{ Name = 'Invoke-CodeInstructionToCode with a -Language brace that closes nothing'; Id = 'InvalidLanguage'; Category = 'InvalidArgument'; Like = '*'
            Call = { param($f) 'task' | Invoke-CodeInstructionToCode @common -Language '{language' -ErrorVariable ev -ErrorAction Stop } }
    ) {
        'id,instruction', '1,task' | Set-Content "$folder/in.csv"
        $command = $Call
        $stop = Get-Stop { & $command $folder }
        Assert-Record $stop.Caught $Id $Category $Like
        Assert-Record $stop.Error0 $Id $Category $Like
    }
}
