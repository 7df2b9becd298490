<#
.SYNOPSIS
    Renders CodeGen's help from the markdown in docs/help: MAML (CodeGen.dll-Help.xml) for the cmdlets and
    about_*.help.txt for the about topics. platyPS is not available here, so this does what its
    New-ExternalHelp would: the text comes from the markdown, the syntax, types, positions, pipeline input and
    aliases from the compiled cmdlets themselves (so they cannot drift).
.DESCRIPTION
    Each cmdlet has docs/help/<Name>.md with the sections SYNOPSIS, DESCRIPTION, EXAMPLES (### Example N: title,
    a fenced code block, then remarks), PARAMETERS (### -Name, then its description), and optionally INPUTS,
    OUTPUTS, NOTES and RELATED LINKS. Parameters that several cmdlets share are described once in
    docs/help/parameters.md; a cmdlet's own file overrides them. The render fails when a cmdlet has no
    markdown, a public parameter has no description, a description names a parameter the cmdlet lacks, or a
    cmdlet has fewer than two examples.
    Runs in a pwsh of its own (build.ps1 starts one): it imports the built module.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $ModuleManifest,
    [Parameter(Mandatory)] [string] $SourcePath,
    [Parameter(Mandatory)] [string] $OutputPath
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$mamlNs = 'http://schemas.microsoft.com/maml/2004/10'
$commandNs = 'http://schemas.microsoft.com/maml/dev/command/2004/10'
$devNs = 'http://schemas.microsoft.com/maml/dev/2004/10'
# -WhatIf and -Confirm are documented with the cmdlets that support them; the rest are <CommonParameters>
$commonParameters = [System.Management.Automation.Cmdlet]::CommonParameters + 'UseTransaction'

function Read-HelpMarkdown([string] $Path) {
    # Sections by '## ' heading; inside, '### ' subsections. Each body is a list of blocks: paragraphs
    # (lines joined with a space) and fenced code (kept as is).
    $sections = [ordered]@{}
    $section = $null
    $sub = $null
    $inCode = $false
    $code = [System.Collections.Generic.List[string]]::new()
    $paragraph = [System.Collections.Generic.List[string]]::new()
    $lineNumber = 0

    function Add-Block($block) {
        if ($null -eq $section) { return } # a preamble before the first section is for readers of the markdown
        if ($sub) { $sub.Blocks.Add($block) } else { $section.Blocks.Add($block) }
    }
    function Close-Paragraph {
        if ($paragraph.Count -gt 0) {
            Add-Block ([pscustomobject]@{ Kind = 'Para'; Text = ($paragraph -join ' ') })
            $paragraph.Clear()
        }
    }

    foreach ($line in [System.IO.File]::ReadAllLines($Path)) {
        $lineNumber++
        if ($inCode) {
            if ($line -match '^```\s*$') {
                Add-Block ([pscustomobject]@{ Kind = 'Code'; Text = ($code -join "`n") })
                $code.Clear()
                $inCode = $false
            }
            else { $code.Add($line) }
            continue
        }
        if ($line -match '^```') { Close-Paragraph; $inCode = $true; continue }
        if ($line -match '^## (.+)$') {
            Close-Paragraph
            $section = [pscustomobject]@{ Name = $Matches[1].Trim().ToUpperInvariant(); Blocks = [System.Collections.Generic.List[object]]::new(); Subs = [System.Collections.Generic.List[object]]::new() }
            $sections[$section.Name] = $section
            $sub = $null
            continue
        }
        if ($line -match '^### (.+)$') {
            Close-Paragraph
            if ($null -eq $section) { throw "${Path}, line ${lineNumber}: '###' outside a section." }
            $sub = [pscustomobject]@{ Title = $Matches[1].Trim(); Blocks = [System.Collections.Generic.List[object]]::new() }
            $section.Subs.Add($sub)
            continue
        }
        if ($line -match '^# ' -or $line -match '^---') { Close-Paragraph; continue }
        if ($line.Trim() -eq '') { Close-Paragraph; continue }
        if ($line -match '^\s*[-*] ' -and $paragraph.Count -gt 0) { Close-Paragraph }
        $paragraph.Add($line.Trim())
    }
    if ($inCode) { throw "${Path}: a code block is not closed." }
    Close-Paragraph
    $sections
}

function Get-Paragraphs($blocks) { @($blocks | Where-Object Kind -eq 'Para' | ForEach-Object Text) }

function Write-Paragraphs([System.Xml.XmlWriter] $w, $texts) {
    foreach ($text in $texts) { $w.WriteElementString('maml', 'para', $mamlNs, $text) }
    if (-not $texts) { $w.WriteElementString('maml', 'para', $mamlNs, '') }
}

function Write-Description([System.Xml.XmlWriter] $w, $texts) {
    $w.WriteStartElement('maml', 'description', $mamlNs)
    Write-Paragraphs $w $texts
    $w.WriteEndElement()
}

function Get-TypeName([type] $type) {
    if ($type.IsGenericType -and $type.GetGenericTypeDefinition() -eq [Nullable`1]) { $type = $type.GetGenericArguments()[0] }
    $type.Name
}

function Write-Parameter([System.Xml.XmlWriter] $w, $parameter, [string[]] $description, $setMetadata) {
    $type = $parameter.ParameterType
    $isSwitch = $type -eq [switch]
    $pipeline = @()
    if ($setMetadata.ValueFromPipelineByPropertyName) { $pipeline += 'ByPropertyName' }
    if ($setMetadata.ValueFromPipeline) { $pipeline += 'ByValue' }
    $position = if ($setMetadata.Position -ge 0) { [string]($setMetadata.Position + 1) } else { 'named' }
    $w.WriteStartElement('command', 'parameter', $commandNs)
    $w.WriteAttributeString('required', ([string]$setMetadata.IsMandatory).ToLowerInvariant())
    $w.WriteAttributeString('variableLength', ([string]$type.IsArray).ToLowerInvariant())
    $w.WriteAttributeString('globbing', 'false')
    $w.WriteAttributeString('pipelineInput', $(if ($pipeline) { "True ($($pipeline -join ', '))" } else { 'False' }))
    $w.WriteAttributeString('position', $position)
    $w.WriteAttributeString('aliases', $(if ($parameter.Aliases.Count) { $parameter.Aliases -join ', ' } else { 'none' }))
    $w.WriteElementString('maml', 'name', $mamlNs, $parameter.Name)
    Write-Description $w $description
    $values = @($parameter.Attributes | Where-Object { $_ -is [System.Management.Automation.ValidateSetAttribute] } | ForEach-Object ValidValues)
    $enumType = if ($type.IsGenericType -and $type.GetGenericTypeDefinition() -eq [Nullable`1]) { $type.GetGenericArguments()[0] } else { $type }
    if ($enumType.IsEnum) { $values = [Enum]::GetNames($enumType) }
    if ($values) {
        $w.WriteStartElement('command', 'parameterValueGroup', $commandNs)
        foreach ($value in $values) {
            $w.WriteStartElement('command', 'parameterValue', $commandNs)
            $w.WriteAttributeString('required', 'false')
            $w.WriteAttributeString('variableLength', 'false')
            $w.WriteString($value)
            $w.WriteEndElement()
        }
        $w.WriteEndElement()
    }
    if (-not $isSwitch) {
        $w.WriteStartElement('command', 'parameterValue', $commandNs)
        $w.WriteAttributeString('required', 'true')
        $w.WriteAttributeString('variableLength', ([string]$type.IsArray).ToLowerInvariant())
        $w.WriteString((Get-TypeName $type))
        $w.WriteEndElement()
    }
    $w.WriteStartElement('dev', 'type', $devNs)
    $w.WriteElementString('maml', 'name', $mamlNs, ($type.FullName -replace '`1\[\[([^,]+),.*$', '[$1]'))
    $w.WriteEndElement()
    $w.WriteElementString('dev', 'defaultValue', $devNs, 'None')
    $w.WriteEndElement()
}

function Write-TypeList([System.Xml.XmlWriter] $w, [string] $list, [string] $item, $section) {
    $w.WriteStartElement('command', $list, $commandNs)
    foreach ($sub in @(if ($section) { $section.Subs })) {
        $w.WriteStartElement('command', $item, $commandNs)
        $w.WriteStartElement('dev', 'type', $devNs)
        $w.WriteElementString('maml', 'name', $mamlNs, $sub.Title)
        $w.WriteEndElement()
        Write-Description $w (Get-Paragraphs $sub.Blocks)
        $w.WriteEndElement()
    }
    $w.WriteEndElement()
}

function ConvertTo-AboutText([string] $Path) {
    # about_*.md -> the plain-text layout of about_*.help.txt: headings in capitals, text indented 4, code 8.
    $sections = Read-HelpMarkdown $Path
    $name = [System.IO.Path]::GetFileNameWithoutExtension($Path)
    $out = [System.Text.StringBuilder]::new()
    function Add-Text([string] $text, [int] $indent) {
        $width = 100 - $indent
        $line = ''
        foreach ($word in ($text -split '\s+' | Where-Object { $_ })) {
            if ($line.Length -gt 0 -and $line.Length + 1 + $word.Length -gt $width) {
                [void]$out.AppendLine((' ' * $indent) + $line)
                $line = $word
            }
            else { $line = if ($line) { "$line $word" } else { $word } }
        }
        if ($line) { [void]$out.AppendLine((' ' * $indent) + $line) }
        [void]$out.AppendLine()
    }
    function Add-Blocks($blocks, [int] $indent) {
        foreach ($block in $blocks) {
            if ($block.Kind -eq 'Code') {
                foreach ($codeLine in $block.Text -split "`n") { [void]$out.AppendLine((' ' * ($indent + 4)) + $codeLine) }
                [void]$out.AppendLine()
            }
            else { Add-Text ($block.Text -replace '`', '') $indent }
        }
    }
    [void]$out.AppendLine('TOPIC').AppendLine("    $name").AppendLine()
    foreach ($section in $sections.Values) {
        [void]$out.AppendLine($section.Name)
        Add-Blocks $section.Blocks 4
        foreach ($sub in $section.Subs) {
            [void]$out.AppendLine('  ' + $sub.Title.ToUpperInvariant())
            Add-Blocks $sub.Blocks 4
        }
    }
    $out.ToString()
}

Import-Module -Name $ModuleManifest -Force
$shared = @{}
$sharedFile = Join-Path $SourcePath 'parameters.md'
if (Test-Path -LiteralPath $sharedFile) {
    foreach ($sub in (Read-HelpMarkdown $sharedFile)['PARAMETERS'].Subs) { $shared[$sub.Title.TrimStart('-')] = Get-Paragraphs $sub.Blocks }
}

$problems = [System.Collections.Generic.List[string]]::new()
$settings = [System.Xml.XmlWriterSettings]::new()
$settings.Indent = $true
$settings.Encoding = [System.Text.UTF8Encoding]::new($false)
New-Item -ItemType Directory -Force -Path $OutputPath | Out-Null
$w = [System.Xml.XmlWriter]::Create((Join-Path $OutputPath 'CodeGen.dll-Help.xml'), $settings)
try {
    $w.WriteStartDocument()
    $w.WriteStartElement('helpItems', 'http://msh')
    $w.WriteAttributeString('schema', 'maml')
    foreach ($command in Get-Command -Module CodeGen -CommandType Cmdlet | Sort-Object Name) {
        $file = Join-Path $SourcePath "$($command.Name).md"
        if (-not (Test-Path -LiteralPath $file)) { $problems.Add("$($command.Name): no $file"); continue }
        $doc = Read-HelpMarkdown $file
        foreach ($required in 'SYNOPSIS', 'DESCRIPTION', 'EXAMPLES', 'PARAMETERS') {
            if (-not $doc.Contains($required)) { $problems.Add("$($command.Name): no '## $required' section") }
        }
        if (-not $doc.Contains('PARAMETERS') -or -not $doc.Contains('EXAMPLES')) { continue }
        $own = @{}
        foreach ($sub in $doc['PARAMETERS'].Subs) { $own[$sub.Title.TrimStart('-')] = Get-Paragraphs $sub.Blocks }
        $parameters = @($command.Parameters.Values | Where-Object { $_.Name -notin $commonParameters } | Sort-Object Name)
        foreach ($name in $own.Keys) {
            if ($name -notin $parameters.Name) { $problems.Add("$($command.Name): $file describes -$name, which the cmdlet does not have") }
        }
        $descriptions = @{}
        foreach ($parameter in $parameters) {
            $text = if ($own.ContainsKey($parameter.Name)) { $own[$parameter.Name] } else { $shared[$parameter.Name] }
            if (-not $text) { $problems.Add("$($command.Name): -$($parameter.Name) has no description") }
            $descriptions[$parameter.Name] = @($text)
        }
        $examples = $doc['EXAMPLES'].Subs
        if ($examples.Count -lt 2) { $problems.Add("$($command.Name): $($examples.Count) examples, at least 2 wanted") }

        $w.WriteStartElement('command', 'command', $commandNs)
        $w.WriteAttributeString('xmlns', 'maml', $null, $mamlNs)
        $w.WriteAttributeString('xmlns', 'dev', $null, $devNs)
        $w.WriteStartElement('command', 'details', $commandNs)
        $w.WriteElementString('command', 'name', $commandNs, $command.Name)
        $w.WriteElementString('command', 'verb', $commandNs, $command.Verb)
        $w.WriteElementString('command', 'noun', $commandNs, $command.Noun)
        Write-Description $w (Get-Paragraphs $doc['SYNOPSIS'].Blocks)
        $w.WriteEndElement()
        Write-Description $w (Get-Paragraphs $doc['DESCRIPTION'].Blocks)

        $w.WriteStartElement('command', 'syntax', $commandNs)
        foreach ($set in $command.ParameterSets | Sort-Object { -not $_.IsDefault }, Name) {
            $w.WriteStartElement('command', 'syntaxItem', $commandNs)
            $w.WriteElementString('maml', 'name', $mamlNs, $command.Name)
            foreach ($p in $set.Parameters | Where-Object { $_.Name -notin $commonParameters } | Sort-Object { if ($_.Position -ge 0) { $_.Position } else { 1000 } }, { -not $_.IsMandatory }, Name) {
                Write-Parameter $w $command.Parameters[$p.Name] $descriptions[$p.Name] $p
            }
            $w.WriteEndElement()
        }
        $w.WriteEndElement()

        $w.WriteStartElement('command', 'parameters', $commandNs)
        foreach ($parameter in $parameters) {
            $sets = @($command.ParameterSets | ForEach-Object { $_.Parameters | Where-Object Name -eq $parameter.Name })
            $merged = [pscustomobject]@{
                IsMandatory                     = @($sets | Where-Object { -not $_.IsMandatory }).Count -eq 0
                Position                        = @($sets.Position | Sort-Object -Descending)[0]
                ValueFromPipeline               = @($sets | Where-Object ValueFromPipeline).Count -gt 0
                ValueFromPipelineByPropertyName = @($sets | Where-Object ValueFromPipelineByPropertyName).Count -gt 0
            }
            Write-Parameter $w $parameter $descriptions[$parameter.Name] $merged
        }
        $w.WriteEndElement()

        Write-TypeList $w 'inputTypes' 'inputType' $(if ($doc.Contains('INPUTS')) { $doc['INPUTS'] })
        Write-TypeList $w 'returnValues' 'returnValue' $(if ($doc.Contains('OUTPUTS')) { $doc['OUTPUTS'] })
        if ($doc.Contains('NOTES')) {
            $w.WriteStartElement('maml', 'alertSet', $mamlNs)
            $w.WriteStartElement('maml', 'alert', $mamlNs)
            Write-Paragraphs $w (Get-Paragraphs $doc['NOTES'].Blocks)
            $w.WriteEndElement()
            $w.WriteEndElement()
        }

        $w.WriteStartElement('command', 'examples', $commandNs)
        foreach ($example in $examples) {
            $codeBlock = @($example.Blocks | Where-Object Kind -eq 'Code')
            if ($codeBlock.Count -eq 0) { $problems.Add("$($command.Name): '$($example.Title)' has no code block") ; continue }
            $w.WriteStartElement('command', 'example', $commandNs)
            $w.WriteElementString('maml', 'title', $mamlNs, "---------- $($example.Title) ----------")
            $w.WriteElementString('dev', 'code', $devNs, $codeBlock[0].Text)
            $w.WriteStartElement('dev', 'remarks', $devNs)
            Write-Paragraphs $w (Get-Paragraphs $example.Blocks)
            $w.WriteEndElement()
            $w.WriteEndElement()
        }
        $w.WriteEndElement()

        $w.WriteStartElement('command', 'relatedLinks', $commandNs)
        if ($doc.Contains('RELATED LINKS')) {
            foreach ($link in Get-Paragraphs $doc['RELATED LINKS'].Blocks) {
                $w.WriteStartElement('maml', 'navigationLink', $mamlNs)
                $w.WriteElementString('maml', 'linkText', $mamlNs, ($link -replace '^[-*]\s*', ''))
                $w.WriteElementString('maml', 'uri', $mamlNs, '')
                $w.WriteEndElement()
            }
        }
        $w.WriteEndElement()
        $w.WriteEndElement()
    }
    $w.WriteEndElement()
    $w.WriteEndDocument()
}
finally {
    $w.Dispose()
}

foreach ($about in Get-ChildItem -LiteralPath $SourcePath -Filter 'about_*.md') {
    $text = ConvertTo-AboutText $about.FullName
    [System.IO.File]::WriteAllText((Join-Path $OutputPath ($about.BaseName + '.help.txt')), $text, [System.Text.UTF8Encoding]::new($false))
}

if ($problems.Count -gt 0) {
    throw "The help is incomplete:`n  " + ($problems -join "`n  ")
}
