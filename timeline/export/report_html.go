package export

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
	"trimnl": func(s string) string { return strings.TrimSuffix(s, "\n") },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>
body { font-family: serif; max-width: 80em; margin: 2em auto; padding: 0 1em; line-height: 1.4; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #999; padding: 0.2em 0.4em; text-align: left; vertical-align: top; }
th { background: #eee; }
code, pre { font-family: monospace; font-size: 0.95em; word-break: break-all; }
pre { background: #f6f6f6; border: 1px solid #ccc; padding: 0.5em; white-space: pre-wrap; }
h2 { border-bottom: 1px solid #999; margin-top: 2em; }
@media print { h2 { page-break-before: auto; } tr { page-break-inside: avoid; } }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
{{if .Completeness}}<h2>Completeness of the timeline</h2>
{{$inc := .Incomplete}}{{range $i, $l := .Completeness}}{{if and $inc (eq $i 0)}}<p><strong>{{$l}}</strong></p>{{else}}<p>{{$l}}</p>{{end}}
{{end}}{{end}}{{range .Intro}}<p>{{.}}</p>
{{end}}
<h2>1. Case</h2>
{{template "kv" .Case}}
<h2>2. Evidence</h2>
{{if not .Evidence}}<p>No evidence is registered in the case.</p>
{{else}}<table>
<tr><th>ID</th><th>Name</th><th>Kind</th><th>Size (bytes)</th><th>SHA-256</th><th>SHA-1</th><th>MD5</th><th>Registered (UTC)</th><th>By</th></tr>
{{range .Evidence}}<tr><td><code>{{.ID}}</code></td><td>{{.Name}}</td><td>{{.Kind}}</td><td>{{.Size}}</td><td><code>{{.SHA256}}</code></td><td><code>{{.SHA1}}</code></td><td><code>{{.MD5}}</code></td><td>{{.Added}}</td><td>{{.By}}</td></tr>
{{end}}</table>
<p>Registered from (path as given to jejak; the evidence was opened read-only):</p>
<ul>
{{range .Evidence}}<li><code>{{.ID}}</code>: <code>{{.Path}}</code></li>
{{end}}</ul>
<p>For a folder, SHA-256 is the hash of its sorted <code>sha256sum</code> listing (reproducible with coreutils); SHA-1 and MD5 exist for single files only.</p>
{{end}}
<h2>3. Chain of custody</h2>
{{template "kv" .Custody}}
<h2>4. What was read</h2>
{{with .Ingest}}<p>Latest ingest run, custody entry {{.Seq}}.</p>
{{if .Note}}<p><strong>{{.Note}}</strong></p>
{{end}}{{template "kv" .Counts}}
{{if .Reasons}}<p>Files skipped, by reason:</p>
<table>
<tr><th>Reason</th><th>Files</th></tr>
{{range .Reasons}}<tr><td>{{.K}}</td><td>{{.V}}</td></tr>
{{end}}</table>
{{end}}{{if .Parsers}}<table>
<tr><th>Parser</th><th>Files</th><th>Events</th><th>Warnings</th><th>Failed files</th></tr>
{{range .Parsers}}<tr><td>{{.Name}}</td><td>{{.Files}}</td><td>{{.Events}}</td><td>{{.Warnings}}</td><td>{{.Failed}}</td></tr>
{{end}}</table>
{{end}}{{else}}<p>{{$.NoIngest}}</p>
{{end}}
<h2>5. What was looked for</h2>
{{with .Hunt}}{{template "kv" .Params}}
{{if .Summary}}<table>
<tr><th>Severity</th><th>Rule</th><th>ATT&amp;CK</th><th>Findings</th><th>Events</th><th>First (UTC)</th><th>Last (UTC)</th><th>Title</th></tr>
{{range .Summary}}<tr><td>{{.Severity}}</td><td>{{.Rule}}</td><td>{{.Technique}}</td><td>{{.Findings}}</td><td>{{.Events}}</td><td>{{.First}}</td><td>{{.Last}}</td><td>{{.Title}}</td></tr>
{{end}}</table>
{{end}}{{if .Logs}}<p>Logs examined: the record IDs of each log were put in order and judged (JEJAK-LOG-02). Only a gap, a clear or a roll-over past the cut-off is a finding; the others are intact.</p>
<table>
<tr><th>Log</th><th>File</th><th>Records</th><th>First ID</th><th>Last ID</th><th>First (UTC)</th><th>Last (UTC)</th><th>Verdict</th><th>Finding</th></tr>
{{range .Logs}}<tr><td>{{.Log}}</td><td>{{.File}}</td><td>{{.Records}}</td><td>{{.FirstID}}</td><td>{{.LastID}}</td><td>{{.First}}</td><td>{{.Last}}</td><td>{{.Verdict}}</td><td>{{.Finding}}</td></tr>
{{end}}</table>
{{end}}{{else}}<p>The case was never hunted: there are no findings.</p>
{{end}}
<h2>6. Findings</h2>
{{if not .Findings}}<p>No findings.</p>
{{end}}{{range .Findings}}<h3>6.{{.N}} {{.Heading}}</h3>
{{template "kv" .Fields}}
{{if .Explanation}}<p>{{.Explanation}}</p>
{{end}}{{if .Reasons}}<ul>
{{range .Reasons}}<li>{{.}}</li>
{{end}}</ul>
{{end}}<p>Matching events:</p>
<table>
<tr><th>#</th><th>Time (UTC)</th><th>Case zone</th><th>Timestamp description</th><th>Message</th><th>Source: evidence » containers » file @ offset, record (parser)</th><th>Event code / record</th><th>Event ID</th></tr>
{{range .Rows}}<tr><td>{{.N}}</td><td>{{.UTC}}</td><td>{{.Local}}</td><td>{{.Desc}}</td><td>{{.Message}}</td><td>{{.Source}}</td><td>{{.Code}}</td><td><code>{{.ID}}</code></td></tr>
{{end}}</table>
{{if .Hidden}}<p>{{.Hidden}} more of the {{.Total}} events are not shown here (report --max-rows); 'jejak hunt --json' lists them all.</p>
{{end}}{{end}}
<h2>7. What was not read</h2>
<ul>
{{range .NotRead.Lines}}<li>{{.}}</li>
{{end}}</ul>
{{if .NotRead.Warnings}}<p>Warnings of the latest ingest run, by file ('jejak warnings CASE' lists each one):</p>
<table>
<tr><th>Kind</th><th>Where</th><th>Parser</th><th>Count</th><th>First warning</th></tr>
{{range .NotRead.Warnings}}<tr><td>{{.Kind}}</td><td>{{.Where}}</td><td>{{if .Parser}}{{.Parser}}{{else}}-{{end}}</td><td>{{.Count}}</td><td>{{.First}}</td></tr>
{{end}}</table>
{{if .NotRead.Hidden}}<p>{{.NotRead.Hidden}} more groups are not shown here.</p>
{{end}}{{end}}
<h2>Appendix A. Rules that produced findings</h2>
{{if not .Rules}}<p>None.</p>
{{end}}{{range .Rules}}<h3>{{.ID}}</h3>
<table>
<tr><td>Source</td><td><code>{{source .}}</code></td></tr>
<tr><td>SHA-256 of the text</td><td><code>{{.SHA256}}</code></td></tr>
</table>
{{if .Note}}<p>{{.Note}}</p>
{{end}}{{if .Text}}<pre>{{trimnl .Text}}</pre>
{{end}}{{end}}
<h2>Appendix B. Every rule the hunt ran</h2>
{{if not .AllRules}}<p>None.</p>
{{else}}<ul>
{{range .AllRules}}<li><code>{{.}}</code></li>
{{end}}</ul>
{{end}}
<h2>Appendix C. Tool</h2>
{{template "kv" .Tool}}
</body>
</html>
{{define "kv"}}<table>
{{range .}}<tr><th>{{.K}}</th><td>{{if .Code}}<code>{{.V}}</code>{{else}}{{.V}}{{end}}</td></tr>
{{end}}</table>{{end}}`))
