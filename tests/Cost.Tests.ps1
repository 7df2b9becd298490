# Measure-CodeGenCost: what a run would cost, before it is paid. Nothing is sent but what the user asks for
# (-SampleRows), which the fake server's counters check; the estimate is held against what a real run reports.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $server = Start-FakeLlm
    $dataflow = Join-Path $PSScriptRoot 'data/dataflow-examples'
    $mini = @{ Endpoint = $server.BaseUrl; Model = 'gpt-4o-mini' }
    $price = @{ Input = 0.15; Output = 0.60 }

    function New-Input([string] $Folder, [int] $Count) {
        $path = Join-Path $Folder 'in.csv'
        1..$Count | ForEach-Object { [pscustomobject]@{ id = $_; instruction = "Write a function that handles case $_ " + ('carefully ' * ($_ % 5)) } } |
            Export-Csv -LiteralPath $path -UseQuotes AsNeeded
        $path
    }
}

AfterAll {
    Clear-CodeGenEndpoint
    if ($server) { Stop-FakeLlm $server }
    Restore-EndpointEnvironment
}

Describe 'Measure-CodeGenCost' {
    BeforeEach { Reset-FakeLlm $server }

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

    It 'shows the estimate as a short table' {
        $in = New-Input (New-TestFolder) 5
        $text = Measure-CodeGenCost -Path $in @mini -MaxTokens 800 -Price $price | Out-String -Width 120
        $text | Should -Match 'PromptTokens'
        $text | Should -Match 'TotalCost'
        $text | Should -Match '<= 4,000'
        $text | Should -Match '<= \$0\.00'
    }
}
