package report

import (
	"html/template"
	"io"
	"strings"
)

// writeHTML renders the report as one self-contained HTML page (no scripts,
// no remote resources), printable to PDF from any browser. html/template
// escapes every value, so evidence text cannot inject markup.
func writeHTML(w io.Writer, v *view) error {
	return reportHTML.Execute(w, v)
}

var reportHTML = template.Must(template.New("report").Funcs(template.FuncMap{
	"source": func(r RuleText) string {
		if r.Rule == nil {
			return "-"
		}
		return r.Rule.Source
	},
	"trimnl":   func(s string) string { return strings.TrimSuffix(s, "\n") },
	"heading":  heading,
	"sections": func() []section { return sections },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>
@page { size: A4; margin: 18mm 15mm 20mm 15mm;
  @bottom-center { content: "page " counter(page) " of " counter(pages); font-family: serif; font-size: 9pt; } }
body { font-family: serif; max-width: 80em; margin: 2em auto; padding: 0 1em; line-height: 1.4; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #999; padding: 0.2em 0.4em; text-align: left; vertical-align: top; }
th { background: #eee; }
thead { display: table-header-group; }
code, pre { font-family: monospace; font-size: 0.95em; word-break: break-all; }
pre { background: #f6f6f6; border: 1px solid #ccc; padding: 0.5em; white-space: pre-wrap; }
h2 { border-bottom: 1px solid #999; margin-top: 2em; }
nav ol { list-style: none; padding-left: 0; }
.signature p { margin: 2em 0 0.5em; }
@media print { body { max-width: none; margin: 0; padding: 0; font-size: 10pt; } h2, h3 { page-break-after: avoid; }
  tr { page-break-inside: avoid; } a { color: inherit; text-decoration: none; } }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
{{template "kv" .Front}}
<p>{{.DateNote}}</p>
{{if .Completeness}}<h2>Completeness of the timeline</h2>
{{$inc := .Incomplete}}{{range $i, $l := .Completeness}}{{if and $inc (eq $i 0)}}<p><strong>{{$l}}</strong></p>{{else}}<p>{{$l}}</p>{{end}}
{{end}}{{end}}<h2 id="summary">{{heading "summary"}}</h2>
{{range .Summary}}<p>{{.}}</p>
{{end}}{{if .SummaryItems}}<ol>
{{range .SummaryItems}}<li>{{.}}</li>
{{end}}</ol>
{{end}}<nav>
<h2>Contents</h2>
<ol>
{{range sections}}<li><a href="#{{.ID}}">{{.Title}}</a></li>
{{end}}</ol>
</nav>
{{range .Intro}}<p>{{.}}</p>
{{end}}
<h2 id="s1">{{heading "s1"}}</h2>
{{template "kv" .Case}}
<h2 id="s2">{{heading "s2"}}</h2>
{{if not .Evidence}}<p>No evidence is registered in the case.</p>
{{else}}<table>
<thead><tr><th>ID</th><th>Name</th><th>Kind</th><th>Size (bytes)</th><th>SHA-256</th><th>SHA-1</th><th>MD5</th><th>Registered (UTC)</th><th>By</th></tr></thead>
<tbody>
{{range .Evidence}}<tr><td><code>{{.ID}}</code></td><td>{{.Name}}</td><td>{{.Kind}}</td><td>{{.Size}}</td><td><code>{{.SHA256}}</code></td><td><code>{{.SHA1}}</code></td><td><code>{{.MD5}}</code></td><td>{{.Added}}</td><td>{{.By}}</td></tr>
{{end}}</tbody>
</table>
<p>Registered from (path as given to jejak; the evidence was opened read-only):</p>
<ul>
{{range .Evidence}}<li><code>{{.ID}}</code>: <code>{{.Path}}</code></li>
{{end}}</ul>
<p>For a folder, SHA-256 is the hash of its sorted <code>sha256sum</code> listing (reproducible with coreutils); SHA-1 and MD5 exist for single files only.</p>
{{end}}{{if .Files}}<p>The files of each folder and the segments of each split image as received, with their SHA-256 (an archive's own hash is its line here):</p>
<table>
<thead><tr><th>Item</th><th>File</th><th>Size (bytes)</th><th>SHA-256</th></tr></thead>
<tbody>
{{range .Files}}<tr><td><code>{{.Item}}</code></td><td>{{.Path}}</td><td>{{.Size}}</td><td><code>{{.SHA256}}</code></td></tr>
{{end}}</tbody>
</table>
{{if .FilesHidden}}<p>{{.FilesHidden}} more files are not listed here; the item's hash manifest in the case folder lists them all.</p>
{{end}}{{end}}
<h2 id="s3">{{heading "s3"}}</h2>
{{template "kv" .Custody}}
<p>What was done, in order, as the custody log records it (each step with the command that does it):</p>
<table>
<thead><tr><th>Entry</th><th>Time (UTC)</th><th>By</th><th>What was done</th><th>Command</th></tr></thead>
<tbody>
{{range .Steps}}<tr><td>{{.Seq}}</td><td>{{.Time}}</td><td>{{.By}}</td><td>{{.What}}</td><td><code>{{.Command}}</code></td></tr>
{{end}}</tbody>
</table>
<h2 id="s4">{{heading "s4"}}</h2>
{{with .Ingest}}<p>Latest ingest run, custody entry {{.Seq}}.</p>
{{if .Note}}<p><strong>{{.Note}}</strong></p>
{{end}}{{template "kv" .Counts}}
{{if .Reasons}}<p>Files skipped, by reason:</p>
<table>
<thead><tr><th>Reason</th><th>Files</th></tr></thead>
<tbody>
{{range .Reasons}}<tr><td>{{.K}}</td><td>{{.V}}</td></tr>
{{end}}</tbody>
</table>
{{end}}{{if .Parsers}}<table>
<thead><tr><th>Parser</th><th>Files</th><th>Events</th><th>Warnings</th><th>Failed files</th></tr></thead>
<tbody>
{{range .Parsers}}<tr><td>{{.Name}}</td><td>{{.Files}}</td><td>{{.Events}}</td><td>{{.Warnings}}</td><td>{{.Failed}}</td></tr>
{{end}}</tbody>
</table>
{{end}}{{else}}<p>{{$.NoIngest}}</p>
{{end}}
<h2 id="s5">{{heading "s5"}}</h2>
{{with .Hunt}}{{template "kv" .Params}}
{{if .Summary}}<table>
<thead><tr><th>Severity</th><th>Rule</th><th>ATT&amp;CK</th><th>Findings</th><th>Events</th><th>First (UTC)</th><th>Last (UTC)</th><th>Title</th></tr></thead>
<tbody>
{{range .Summary}}<tr><td>{{.Severity}}</td><td>{{.Rule}}</td><td>{{.Technique}}</td><td>{{.Findings}}</td><td>{{.Events}}</td><td>{{.First}}</td><td>{{.Last}}</td><td>{{.Title}}</td></tr>
{{end}}</tbody>
</table>
{{end}}{{if .Logs}}<p>Logs examined: the record IDs of each log were put in order and judged (JEJAK-LOG-02). Only a gap, a clear or a roll-over past the cut-off is a finding; the others are intact.</p>
<table>
<thead><tr><th>Log</th><th>File</th><th>Records</th><th>First ID</th><th>Last ID</th><th>First (UTC)</th><th>Last (UTC)</th><th>Verdict</th><th>Finding</th></tr></thead>
<tbody>
{{range .Logs}}<tr><td>{{.Log}}</td><td>{{.File}}</td><td>{{.Records}}</td><td>{{.FirstID}}</td><td>{{.LastID}}</td><td>{{.First}}</td><td>{{.Last}}</td><td>{{.Verdict}}</td><td>{{.Finding}}</td></tr>
{{end}}</tbody>
</table>
{{end}}{{else}}<p>The case was never hunted: there are no findings.</p>
{{end}}
<h2 id="s6">{{heading "s6"}}</h2>
{{if not .Findings}}<p>No findings.</p>
{{end}}{{range .Findings}}<h3 id="f{{.N}}">6.{{.N}} {{.Heading}}</h3>
{{template "kv" .Fields}}
{{if .Explanation}}<p>{{.Explanation}}</p>
{{end}}{{if .Reasons}}<ul>
{{range .Reasons}}<li>{{.}}</li>
{{end}}</ul>
{{end}}<p>Matching events:</p>
<table>
<thead><tr><th>#</th><th>Time (UTC)</th><th>Case zone</th><th>Timestamp description</th><th>Message</th><th>Source: evidence » containers » file @ offset, record (parser)</th><th>Event code / record</th><th>Event ID</th></tr></thead>
<tbody>
{{range .Rows}}<tr><td>{{.N}}</td><td>{{.UTC}}</td><td>{{.Local}}</td><td>{{.Desc}}</td><td>{{.Message}}</td><td>{{.Source}}</td><td>{{.Code}}</td><td><code>{{.ID}}</code></td></tr>
{{end}}</tbody>
</table>
{{if .Hidden}}<p>{{.Hidden}} more of the {{.Total}} events are not shown here (report --max-rows); 'jejak hunt --json' lists them all.</p>
{{end}}{{end}}
<h2 id="s7">{{heading "s7"}}</h2>
<ul>
{{range .NotRead.Lines}}<li>{{.}}</li>
{{end}}</ul>
<p>Warnings of the latest ingest run, by class:</p>
<table>
<thead><tr><th>Class</th><th>Count</th><th>Meaning</th></tr></thead>
<tbody>
{{range .Classes}}<tr><td>{{.Kind}}</td><td>{{.Count}}</td><td>{{.Meaning}}</td></tr>
{{end}}</tbody>
</table>
{{if not .NotRead.Warnings}}<p>No file was skipped or read in part.</p>
{{else}}<p>Every file skipped or read in part, with the reason ('jejak warnings CASE' lists each warning):</p>
<table>
<thead><tr><th>Class</th><th>File (evidence » containers » path)</th><th>Parser</th><th>Count</th><th>Reason (the first warning)</th></tr></thead>
<tbody>
{{range .NotRead.Warnings}}<tr><td>{{.Kind}}</td><td>{{.Where}}</td><td>{{if .Parser}}{{.Parser}}{{else}}-{{end}}</td><td>{{.Count}}</td><td>{{.First}}</td></tr>
{{end}}</tbody>
</table>
{{if .NotRead.Hidden}}<p>{{.NotRead.Hidden}} more groups are not shown here.</p>
{{end}}{{end}}
<h2 id="s8">{{heading "s8"}}</h2>
{{if not .Outputs}}<p>No export of the case timeline is recorded in the custody log.</p>
{{else}}<p>As the custody log records them (reports are in the custody log too; they are not listed here, so writing a report twice gives the same file):</p>
<table>
<thead><tr><th>Entry</th><th>Time (UTC)</th><th>Kind</th><th>Format</th><th>File</th><th>SHA-256</th><th>Manifest SHA-256</th></tr></thead>
<tbody>
{{range .Outputs}}<tr><td>{{.Seq}}</td><td>{{.Time}}</td><td>{{.Kind}}</td><td>{{.Format}}</td><td><code>{{.File}}</code></td><td><code>{{.SHA256}}</code></td><td><code>{{.ManifestSHA256}}</code></td></tr>
{{end}}</tbody>
</table>
{{end}}
<h2 id="s9">{{heading "s9"}}</h2>
{{range .Declaration}}<p>{{.}}</p>
{{end}}<div class="signature">
<p>Signature: ______________________________</p>
<p>Name: {{if .Examiner}}{{.Examiner}}{{else}}-{{end}}</p>
<p>Date: ______________________________</p>
</div>
<h2 id="appA">{{heading "appA"}}</h2>
{{if not .Rules}}<p>None.</p>
{{end}}{{range .Rules}}<h3>{{.ID}}</h3>
<table>
<tr><td>Source</td><td><code>{{source .}}</code></td></tr>
<tr><td>SHA-256 of the text</td><td><code>{{.SHA256}}</code></td></tr>
</table>
{{if .Note}}<p>{{.Note}}</p>
{{end}}{{if .Text}}<pre>{{trimnl .Text}}</pre>
{{end}}{{end}}
<h2 id="appB">{{heading "appB"}}</h2>
{{if not .AllRules}}<p>None.</p>
{{else}}<ul>
{{range .AllRules}}<li><code>{{.}}</code></li>
{{end}}</ul>
{{end}}
<h2 id="appC">{{heading "appC"}}</h2>
{{if not .Glossary}}<p>The timeline holds no events.</p>
{{else}}<p>Every kind of time stamp in the case timeline (timestamp_desc), what it means, and how many events carry it:</p>
<table>
<thead><tr><th>Timestamp description</th><th>Meaning</th><th>Events</th><th>Parsers</th></tr></thead>
<tbody>
{{range .Glossary}}<tr><td>{{.Desc}}</td><td>{{.Meaning}}</td><td>{{.Events}}</td><td>{{.Parsers}}</td></tr>
{{end}}</tbody>
</table>
{{end}}
<h2 id="appD">{{heading "appD"}}</h2>
{{template "kv" .Tool}}
</body>
</html>
{{define "kv"}}<table>
{{range .}}<tr><th>{{.K}}</th><td>{{if .Code}}<code>{{.V}}</code>{{else}}{{.V}}{{end}}</td></tr>
{{end}}</table>{{end}}`))
