# What a run cost (Invoke-CodeInstructionToCode's summary and verbose line) and the session's prices
# (Set-CodeGenEndpoint -Price / -PriceFile), against the fake server, whose gpt-4o-mini prompt tokens are counted
# as OpenAI counts them.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $server = Start-FakeLlm
    $common = @{ Endpoint = $server.BaseUrl; MaxRetries = 0 }

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
