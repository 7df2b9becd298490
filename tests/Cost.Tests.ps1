# What a run will cost (Measure-CodeGenCost: nothing is sent but what the user asks for, -SampleRows, which the
# fake server's counters check; the estimate is held against what a real run reports), what a run cost
# (Invoke-CodeInstructionToCode's summary and verbose line) and the session's prices (Set-CodeGenEndpoint -Price /
# -PriceFile), against the fake server, whose gpt-4o-mini prompt tokens are counted as OpenAI counts them.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $server = Start-FakeLlm
    $common = @{ Endpoint = $server.BaseUrl; MaxRetries = 0 }
    $dataflow = Join-Path $PSScriptRoot 'data/dataflow-examples'
    $mini = @{ Endpoint = $server.BaseUrl; Model = 'gpt-4o-mini' }
    $price = @{ Input = 0.15; Output = 0.60 }

    function New-Input([string] $Folder, [int] $Count) {
        $path = Join-Path $Folder 'in.csv'
        1..$Count | ForEach-Object { [pscustomobject]@{ id = $_; instruction = "Write a function that handles case $_ " + ('carefully ' * ($_ % 5)) } } |
            Export-Csv -LiteralPath $path -UseQuotes AsNeeded
        $path
    }

    function New-TaskFile([string] $Path, [int] $Count) {
        1..$Count | ForEach-Object { [pscustomobject]@{ id = $_; instruction = "task $_" } } | Export-Csv -LiteralPath $Path -Encoding utf8
        $Path
    }

    # the summary line -Verbose ends a run with
    function Get-SummaryLine([object[]] $Stream) {
        @($Stream | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] -and $_.Message -like 'Invoke-CodeInstructionToCode: *' })[-1].Message
    }
}

AfterAll {
    Clear-CodeGenEndpoint
    if ($server) { Stop-FakeLlm $server }
    Restore-EndpointEnvironment
}

Describe 'The cost of a run' {
    BeforeEach {
        Reset-FakeLlm $server
        Clear-CodeGenEndpoint
        $folder = New-TestFolder
        $in = New-TaskFile (Join-Path $folder 'in.csv') 4
    }

    It 'is in the file-mode summary and its verbose line with -Price: the reported tokens at those prices' {
        $stream = Invoke-CodeInstructionToCode -Path $in -OutputPath (Join-Path $folder 'out.jsonl') -Model gpt-4o-mini @common `
            -Price @{ Input = 0.15; Output = 0.60 } -Verbose 4>&1
        $summary = @($stream | Where-Object { $_.pstypenames -contains 'CodeGen.Core.Running.FileRunSummary' })[0]
        $summary.UsageReported | Should -BeTrue
        $summary.PromptTokens | Should -BeGreaterThan 0
        $summary.InputCost | Should -Be ([decimal]$summary.PromptTokens * 0.15 / 1000000)
        $summary.OutputCost | Should -Be ([decimal]$summary.CompletionTokens * 0.60 / 1000000)
        $summary.TotalCost | Should -Be ($summary.InputCost + $summary.OutputCost)
        $summary.Currency | Should -Be 'USD'
        $summary.PriceSource | Should -Be '-Price'
        Get-SummaryLine $stream | Should -Match '; cost \$0\.0\d+ at -Price\.'
        ($summary | Format-Table | Out-String) | Should -Match '\$0\.0\d+'
    }

    It 'is in the verbose line of pipeline mode' {
        $stream = 'task 1', 'task 2' | Invoke-CodeInstructionToCode -Model gpt-4o-mini @common -Price @{ Input = 2.5; Output = 10 } -Verbose 4>&1
        Get-SummaryLine $stream | Should -Match '\(\d+ prompt, \d+ completion\); cost \$0\.\d+ at -Price\.$'
    }

    It 'is not there without prices, and nothing warns' {
        $stream = Invoke-CodeInstructionToCode -Path $in -OutputPath (Join-Path $folder 'out.jsonl') -Model gpt-4o-mini @common -Verbose 4>&1 3>&1
        $summary = @($stream | Where-Object { $_.pstypenames -contains 'CodeGen.Core.Running.FileRunSummary' })[0]
        $summary.TotalCost | Should -BeNullOrEmpty
        $summary.Currency | Should -BeNullOrEmpty
        Get-SummaryLine $stream | Should -Not -Match 'cost'
        @($stream | Where-Object { $_ -is [System.Management.Automation.WarningRecord] }) | Should -BeNullOrEmpty
    }

    It 'counts nothing for answers the response cache gave' {
        $cache = Join-Path $folder 'cache'
        $first = Invoke-CodeInstructionToCode -Path $in -OutputPath (Join-Path $folder 'first.jsonl') -Model gpt-4o-mini @common -CachePath $cache -Price @{ Input = 1; Output = 1 }
        $first.TotalCost | Should -BeGreaterThan 0
        $again = Invoke-CodeInstructionToCode -Path $in -OutputPath (Join-Path $folder 'again.jsonl') -Model gpt-4o-mini @common -CachePath $cache -Price @{ Input = 1; Output = 1 }
        $again.CacheHits | Should -Be 4
        $again.PromptTokens | Should -Be $first.PromptTokens
        $again.TotalCost | Should -Be 0
    }

    It 'of a merged batch is at the batch prices' {
        $stream = Invoke-CodeInstructionToCode -Path $in -OutputPath (Join-Path $folder 'out.csv') -Model gpt-4o-mini @common -Batch -PollIntervalSec 0.05 `
            -Price @{ Input = 0.15; Output = 0.60; BatchInput = 0.05; BatchOutput = 0.2 } -Verbose 4>&1
        $summary = @($stream | Where-Object { $_.pstypenames -contains 'CodeGen.Core.Running.FileRunSummary' })[0]
        $summary.Generated | Should -Be 4
        @($stream | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] -and $_.Message -like 'Merged the batch results*' })[0].Message |
            Should -Match '4 generated, 0 failed; cost \$0\.0\d+ at -Price \(batch prices\)\.'
        $summary.TotalCost | Should -Be (([decimal]$summary.PromptTokens * 0.05 + [decimal]$summary.CompletionTokens * 0.2) / 1000000)
        $summary.PriceSource | Should -Be '-Price (batch prices)'
    }
}

Describe 'Prices that cannot be used' {
    BeforeEach {
        Reset-FakeLlm $server
        Clear-CodeGenEndpoint
        $folder = New-TestFolder
        $in = New-TaskFile (Join-Path $folder 'in.csv') 2
    }

    It '-Price with <Case> is InvalidPrice naming it, before anything is sent' -ForEach @(
        @{ Case = 'an unknown key'; Price = @{ Input = 1; Outptu = 2 }; Named = "'Outptu'" }
        @{ Case = 'a value that is not a number'; Price = @{ Input = 'cheap'; Output = 2 }; Named = "Input is 'cheap'" }
    ) {
        { Invoke-CodeInstructionToCode -Path $in -OutputPath (Join-Path $folder 'out.jsonl') -Model gpt-4o-mini @common -Price $Price -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidPrice,CodeGen.Commands.InvokeCodeInstructionToCodeCommand' -ExpectedMessage "*$Named*"
        (Get-FakeLlmStats $server).requests | Should -Be 0

        { Set-CodeGenEndpoint -Price $Price -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidPrice,CodeGen.Commands.SetCodeGenEndpointCommand' -ExpectedMessage "*$Named*"
    }

    It '-PriceFile without the model is PriceUnavailable naming the file' {
        $prices = Join-Path $folder 'prices.json'
        '{ "gpt-4o": { "input_cost_per_token": 0.0000025, "output_cost_per_token": 0.00001 } }' | Set-Content -LiteralPath $prices
        { Invoke-CodeInstructionToCode -Path $in -OutputPath (Join-Path $folder 'out.jsonl') -Model gpt-4o-mini @common -PriceFile $prices -ErrorAction Stop } |
            Should -Throw -ErrorId 'PriceUnavailable,CodeGen.Commands.InvokeCodeInstructionToCodeCommand' -ExpectedMessage "*$prices*gpt-4o-mini*"
        (Get-FakeLlmStats $server).requests | Should -Be 0
        { Measure-CodeGenCost -Path $in -Model gpt-4o-mini @common -PriceFile $prices -ErrorAction Stop } | Should -Throw -ErrorId 'PriceUnavailable,*' -ExpectedMessage "*$prices*"
    }
}

Describe 'Set-CodeGenEndpoint -Price and -PriceFile' {
    BeforeEach {
        Reset-FakeLlm $server
        Clear-CodeGenEndpoint
        $folder = New-TestFolder
        $in = New-TaskFile (Join-Path $folder 'in.csv') 2
    }

    It 'prices the runs of the model it was set with, and only that model' {
        Set-CodeGenEndpoint @common -Model gpt-4o-mini -Price @{ Input = 0.15; Output = 0.60 }
        $priced = Invoke-CodeInstructionToCode -Path $in -OutputPath (Join-Path $folder 'a.jsonl')
        $priced.TotalCost | Should -BeGreaterThan 0
        $priced.PriceSource | Should -Be 'Set-CodeGenEndpoint -Price'

        $other = Invoke-CodeInstructionToCode -Path $in -OutputPath (Join-Path $folder 'b.jsonl') -Model gpt-4.1
        $other.TotalCost | Should -BeNullOrEmpty

        (Measure-CodeGenCost -Path $in -MaxTokens 100).Price | Should -BeLike '*Set-CodeGenEndpoint -Price*'
        (Measure-CodeGenCost -Path $in -MaxTokens 100 -Model gpt-4.1 3>$null).TotalCost | Should -BeNullOrEmpty
    }

    It 'takes the session''s model at the time, and a command''s own -Price wins' {
        Set-CodeGenEndpoint @common -Model gpt-4.1
        Set-CodeGenEndpoint -Price @{ Input = 2; Output = 8 }
        (Get-CodeGenEndpoint).Price | Should -Be 'Input 2, Output 8 USD per million tokens, for gpt-4.1'
        (Invoke-CodeInstructionToCode -Path $in -OutputPath (Join-Path $folder 'a.jsonl')).PriceSource | Should -Be 'Set-CodeGenEndpoint -Price'
        (Invoke-CodeInstructionToCode -Path $in -OutputPath (Join-Path $folder 'b.jsonl') -Price @{ Input = 1; Output = 1 }).PriceSource | Should -Be '-Price'
    }

    It 'keeps a price file''s full path, refuses one that is missing or not JSON, and a run whose model it lacks only warns' {
        Push-Location $folder
        try {
            '{ "gpt-4o": { "input_cost_per_token": 0.0000025, "output_cost_per_token": 0.00001 } }' | Set-Content -LiteralPath prices.json
            'not json' | Set-Content -LiteralPath broken.json
            { Set-CodeGenEndpoint -PriceFile ./missing.json -ErrorAction Stop } | Should -Throw -ErrorId 'PriceUnavailable,*' -ExpectedMessage '*missing.json*'
            { Set-CodeGenEndpoint -PriceFile ./broken.json -ErrorAction Stop } | Should -Throw -ErrorId 'PriceUnavailable,*' -ExpectedMessage '*broken.json*not JSON*'
            Set-CodeGenEndpoint @common -PriceFile ./prices.json
        }
        finally { Pop-Location }
        (Get-CodeGenEndpoint).PriceFile | Should -Be (Join-Path $folder 'prices.json')

        (Invoke-CodeInstructionToCode -Path $in -OutputPath (Join-Path $folder 'a.jsonl') -Model gpt-4o).PriceSource | Should -Be 'prices.json: gpt-4o'
        $stream = Invoke-CodeInstructionToCode -Path $in -OutputPath (Join-Path $folder 'b.jsonl') -Model gpt-4o-mini 3>&1
        $warning = @($stream | Where-Object { $_ -is [System.Management.Automation.WarningRecord] })
        $warning.Count | Should -Be 1
        $warning[0].Message | Should -BeLike '*no prices for model ''gpt-4o-mini''*Set-CodeGenEndpoint -PriceFile*'
        @($stream | Where-Object { $_.pstypenames -contains 'CodeGen.Core.Running.FileRunSummary' })[0].Generated | Should -Be 2
    }

    It 'forgets them with $null and with Clear-CodeGenEndpoint' {
        $prices = Join-Path $folder 'prices.json'
        '{}' | Set-Content -LiteralPath $prices
        Set-CodeGenEndpoint @common -Model gpt-4o-mini -Price @{ Input = 1; Output = 1 } -PriceFile $prices
        Set-CodeGenEndpoint -Price $null
        (Get-CodeGenEndpoint).Price | Should -BeNullOrEmpty
        (Get-CodeGenEndpoint).PriceFile | Should -Be $prices
        Set-CodeGenEndpoint -Price @{ Input = 1; Output = 1 }
        Clear-CodeGenEndpoint
        Set-CodeGenEndpoint @common
        (Get-CodeGenEndpoint).Price | Should -BeNullOrEmpty
        (Get-CodeGenEndpoint).PriceFile | Should -BeNullOrEmpty
    }
}

Describe 'Measure-CodeGenCost' {
    BeforeEach {
        Reset-FakeLlm $server
        Clear-CodeGenEndpoint
    }

    It 'counts and prices a file without sending a request' {
        $in = New-Input (New-TestFolder) 40
        $estimate = Measure-CodeGenCost -Path $in @mini -MaxTokens 800 -Price $price
        $estimate.Rows | Should -Be 40
        $estimate.PromptTokens | Should -BeGreaterThan 40
        $estimate.TokenCounting | Should -Be 'o200k_base tokenizer, every row'
        $estimate.MaxCompletionTokens | Should -Be (40 * 800)
        $estimate.InputCost | Should -Be ([decimal]$estimate.PromptTokens * 0.15 / 1e6)
        $estimate.OutputCost | Should -Be ([decimal](40 * 800) * 0.60 / 1e6)
        $estimate.TotalCost | Should -Be ($estimate.InputCost + $estimate.OutputCost)
        $estimate.Currency | Should -Be 'USD'
        $estimate.OutputCostBasis | Should -BeLike '*800-token limit*'
        (Get-FakeLlmStats $server).requests | Should -Be 0
    }

    It 'estimates the prompt tokens of DataFlow''s rows within 1% of what a real run reports' {
        $folder = New-TestFolder
        foreach ($file in 'code_synthesis_input.jsonl', 'raw_code.jsonl') {
            Reset-FakeLlm $server
            $in = Join-Path $dataflow $file
            $key = if ($file -eq 'raw_code.jsonl') { 'instruction' } else { 'raw_code' }
            $estimate = Measure-CodeGenCost -Path $in @mini -InputKey $key -SystemPrompt 'You are a careful engineer.'
            (Get-FakeLlmStats $server).requests | Should -Be 0
            $summary = Invoke-CodeInstructionToCode -Path $in -OutputPath (Join-Path $folder "$file.out.jsonl") @mini -InputKey $key -SystemPrompt 'You are a careful engineer.' -ErrorAction SilentlyContinue
            $summary.Generated | Should -Be $estimate.Rows
            [math]::Abs($estimate.PromptTokens - $summary.PromptTokens) | Should -BeLessOrEqual ($summary.PromptTokens * 0.01) -Because "$file was estimated at $($estimate.PromptTokens) and run at $($summary.PromptTokens)"
        }
    }

    It 'runs -SampleRows rows for real, and only those, to estimate the answers'' tokens' {
        $in = New-Input (New-TestFolder) 50
        $estimate = Measure-CodeGenCost -Path $in @mini -SampleRows 5 -Price $price
        (Get-FakeLlmStats $server).requests | Should -Be 5
        $estimate.SampleRows | Should -Be 5
        $estimate.SampleAnswered | Should -Be 5
        $estimate.EstimatedCompletionTokens | Should -BeGreaterThan 0
        $estimate.OutputCostBasis | Should -Be 'measured on 5 sample rows'
        $estimate.OutputCost | Should -Be ([decimal]$estimate.EstimatedCompletionTokens * 0.60 / 1e6)
        $estimate.SampleCost | Should -BeGreaterThan 0

        # the same rows are sampled on every run of the same input
        $again = Measure-CodeGenCost -Path $in @mini -SampleRows 5 -Price $price
        $again.EstimatedCompletionTokens | Should -Be $estimate.EstimatedCompletionTokens
    }

    It 'answers -SampleRows from the response cache when asked again, and a run with the same cache pays nothing for the sample''s rows' {
        $folder = New-TestFolder
        $in = New-Input $folder 20
        $cache = Join-Path $folder 'cache'
        $first = Measure-CodeGenCost -Path $in @mini -SampleRows 4 -Price $price -CachePath $cache
        (Get-FakeLlmStats $server).requests | Should -Be 4
        $first.SampleReused | Should -Be 0
        $first.SampleCost | Should -BeGreaterThan 0

        # estimated again: the same sample, read from the cache, measured alike and not paid for
        $again = Measure-CodeGenCost -Path $in @mini -SampleRows 4 -Price $price -CachePath $cache
        (Get-FakeLlmStats $server).requests | Should -Be 4
        $again.SampleReused | Should -Be 4
        $again.SampleAnswered | Should -Be 4
        $again.SampleCost | Should -Be 0
        $again.EstimatedCompletionTokens | Should -Be $first.EstimatedCompletionTokens

        # the run with the same cache sends only the other 16 rows
        $summary = Invoke-CodeInstructionToCode -Path $in -OutputPath (Join-Path $folder 'out.csv') @mini -CachePath $cache
        $summary.Generated | Should -Be 20
        $summary.CacheHits | Should -Be 4
        (Get-FakeLlmStats $server).requests | Should -Be 20

        # -NoCache: the sample is sent and paid for again
        $caught = $null
        try { Measure-CodeGenCost -Path $in @mini -SampleRows 4 -Price $price -CacheMode ReadWrite -NoCache } catch { $caught = $_ }
        $caught.FullyQualifiedErrorId | Should -BeLike 'NoCacheAndCacheMode,*'
        (Get-FakeLlmStats $server).requests | Should -Be 20
        $fresh = Measure-CodeGenCost -Path $in @mini -SampleRows 4 -Price $price -NoCache
        (Get-FakeLlmStats $server).requests | Should -Be 24
        $fresh.SampleReused | Should -Be 0
    }

    It 'sends nothing under -WhatIf, even with -SampleRows' {
        $in = New-Input (New-TestFolder) 10
        $estimate = Measure-CodeGenCost -Path $in @mini -SampleRows 3 -Price $price -WhatIf
        (Get-FakeLlmStats $server).requests | Should -Be 0
        $estimate.SampleRows | Should -Be 0
        $estimate.Rows | Should -Be 10
    }

    It 'takes rows from the pipeline and -Instruction, and leaves out rows a run would refuse, saying so' {
        $rows = @([pscustomobject]@{ instruction = 'Write a function' }, [pscustomobject]@{ task = 'no instruction' }, 'a plain string is an instruction')
        $estimate = $rows | Measure-CodeGenCost @mini -WarningVariable warnings -WarningAction SilentlyContinue
        $estimate.Rows | Should -Be 2
        $estimate.Unsendable | Should -Be 1
        $warnings -join "`n" | Should -BeLike "*1 row would not be sent*instruction*"
        $warnings -join "`n" | Should -BeLike '*No price is known*-Price*'
        $estimate.InputCost | Should -BeNullOrEmpty

        (Measure-CodeGenCost -Instruction 'one', 'two' @mini -WarningAction SilentlyContinue).Rows | Should -Be 2
        # files from Get-ChildItem are counted as -Path counts them
        $in = New-Input (New-TestFolder) 7
        (Get-ChildItem -LiteralPath $in | Measure-CodeGenCost @mini -WarningAction SilentlyContinue).Rows | Should -Be 7
    }

    It 'prices -Batch at the batch prices, else at half' {
        $in = New-Input (New-TestFolder) 20
        $live = Measure-CodeGenCost -Path $in @mini -MaxTokens 500 -Price $price
        $batch = Measure-CodeGenCost -Path $in @mini -MaxTokens 500 -Price $price -Batch
        $batch.Batch | Should -BeTrue
        $batch.TotalCost | Should -Be ($live.TotalCost / 2)
        $priced = Measure-CodeGenCost -Path $in @mini -MaxTokens 500 -Price @{ Input = 0.15; Output = 0.60; BatchInput = 0.1; BatchOutput = 0.2 } -Batch
        $priced.OutputCost | Should -Be ([decimal](20 * 500) * 0.2 / 1e6)
    }

    It 'looks the model up in a LiteLLM price file' {
        $folder = New-TestFolder
        $file = Join-Path $folder 'prices.json'
        Set-Content -LiteralPath $file '{ "gpt-4o-mini": { "input_cost_per_token": 1.5e-07, "output_cost_per_token": 6e-07 }, "gpt-4o": { "input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05 } }'
        $in = New-Input $folder 10
        $estimate = Measure-CodeGenCost -Path $in @mini -MaxTokens 100 -PriceFile $file
        $estimate.Price | Should -Be 'prices.json: gpt-4o-mini'
        $estimate.OutputCost | Should -Be ([decimal](10 * 100) * 0.60 / 1e6)
    }

    It 'refuses prices that are not prices, naming what is wrong' -ForEach @(
        @{ Price = @{ Input = 0.15; Outputt = 0.6 }; Id = 'InvalidPrice'; Message = "*'Outputt'*" }
        @{ Price = @{ Input = 'cheap'; Output = 0.6 }; Id = 'InvalidPrice'; Message = "*-Price Input is 'cheap'*" }
        @{ Price = @{ Input = 0.15 }; Id = 'InvalidPrice'; Message = '*no Output price*' }
    ) {
        $in = New-Input (New-TestFolder) 3
        $err = { Measure-CodeGenCost -Path $in @mini -Price $Price } | Should -Throw -PassThru
        $err.FullyQualifiedErrorId | Should -BeLike "$Id*"
        $err.Exception.Message | Should -BeLike $Message
        $err.ErrorDetails.RecommendedAction | Should -BeLike '*-Price @{ Input*'
    }

    It 'stops when the price file has no entry for the model, naming the file' {
        $folder = New-TestFolder
        $file = Join-Path $folder 'prices.json'
        Set-Content -LiteralPath $file '{ "gpt-4o": { "input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05 } }'
        $err = { Measure-CodeGenCost -Path (New-Input $folder 3) @mini -PriceFile $file } | Should -Throw -PassThru
        $err.FullyQualifiedErrorId | Should -BeLike 'PriceUnavailable*'
        $err.CategoryInfo.Category | Should -Be 'InvalidData'
        $err.Exception.Message | Should -BeLike "*$file*no prices for model 'gpt-4o-mini' (it has gpt-4o)*"
        $err.TargetObject | Should -Be $file

        $both = { Measure-CodeGenCost -Path (New-Input $folder 3) @mini -PriceFile $file -Price $price } | Should -Throw -PassThru
        $both.FullyQualifiedErrorId | Should -BeLike 'PriceAndPriceFile*'
    }

    It 'asks Anthropic''s count_tokens for Claude''s prompts, and sends no message' {
        $in = New-Input (New-TestFolder) 12
        $estimate = Measure-CodeGenCost -Path $in -Provider Anthropic -Endpoint $server.BaseUrl -ApiKey 'sk-ant-test-0123456789' -Model 'claude-sonnet-4-5' -Price @{ Input = 3; Output = 15 }
        $stats = Get-FakeLlmStats $server
        $stats.tokenCounts | Should -Be 12
        $stats.requests | Should -Be 0
        $estimate.TokenCounting | Should -Be 'Anthropic count_tokens, every row'
        $estimate.MaxCompletionTokens | Should -Be (12 * 8192)
    }

    It 'asks Anthropic nothing under -WhatIf, and says the count is an estimate' {
        $in = New-Input (New-TestFolder) 4
        $estimate = Measure-CodeGenCost -Path $in -Provider Anthropic -Endpoint $server.BaseUrl -ApiKey 'sk-ant-test-0123456789' -Model 'claude-sonnet-4-5' -WhatIf
        $stats = Get-FakeLlmStats $server
        $stats.tokenCounts | Should -Be 0
        $stats.requests | Should -Be 0
        $estimate.TokenCounting | Should -BeLike "estimate*count_tokens was not asked*"
    }

    It 'warns on the pipeline thread when count_tokens is not served, and estimates' {
        Set-FakeLlmConfig $server @{ countTokensNotServed = $true }
        try {
            $in = New-Input (New-TestFolder) 4
            $estimate = Measure-CodeGenCost -Path $in -Provider Anthropic -Endpoint $server.BaseUrl -ApiKey 'sk-ant-test-0123456789' -Model 'claude-sonnet-4-5' -WarningVariable warnings -WarningAction SilentlyContinue
            $estimate.TokenCounting | Should -BeLike 'estimate*could not be used*'
            ($warnings -join "`n") | Should -BeLike "*count_tokens could not be used*404*"
        }
        finally { Set-FakeLlmConfig $server @{} }
    }

    It 'shows the estimate as a short table' {
        $in = New-Input (New-TestFolder) 5
        $text = Measure-CodeGenCost -Path $in @mini -MaxTokens 800 -Price $price | Out-String -Width 120
        $text | Should -Match 'PromptTokens'
        $text | Should -Match 'TotalCost'
        $text | Should -Match '<= 4,000'
        $text | Should -Match '<= \$0\.00'
    }
}
