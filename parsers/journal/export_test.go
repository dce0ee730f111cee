package journal

// Test helpers for the external test package (hunt_test.go), which cannot
// be package journal: it imports parsers/all, which imports this package.
var (
	Tools        = tools
	BuildJournal = buildJournal
	WriteExport  = writeExport
)

type ExportEntry = exportEntry
