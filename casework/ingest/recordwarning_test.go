package ingest

import (
	"errors"
	"testing"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/timeline"
)

// TestRecordWarning: a stored record warning keeps what the parser said of
// itself (issue 18): its own name, and a path naming something inside the
// file; a path that says less than the entry's (a base name, another
// file) leaves the entry's.
func TestRecordWarning(t *testing.T) {
	it := Item{SHA256: "e1", Name: "disk.img"}
	e := jfs.NewEntry("docs/report.docx", []string{"ntfs:docs/report.docx"}, 10, nil, nil)
	bad := errors.New("bad record")
	tests := []struct {
		name             string
		re               parsers.RecordError
		wantParser, path string
	}{
		{"parser and entry path", parsers.RecordError{Parser: "syslog", Path: "docs/report.docx"}, "syslog", "docs/report.docx"},
		{"no parser given", parsers.RecordError{Path: "docs/report.docx"}, "matched", "docs/report.docx"},
		{"another parser's record", parsers.RecordError{Parser: "ole", Path: "docs/report.docx"}, "ole", "docs/report.docx"},
		{"a member inside", parsers.RecordError{Parser: "zipdoc", Path: "docs/report.docx/word/document.xml"}, "zipdoc", "docs/report.docx/word/document.xml"},
		{"a stream inside", parsers.RecordError{Parser: "x", Path: "docs/report.docx:Zone.Identifier"}, "x", "docs/report.docx:Zone.Identifier"},
		{"only the base name", parsers.RecordError{Parser: "x", Path: "report.docx"}, "x", "docs/report.docx"},
		{"another file", parsers.RecordError{Parser: "x", Path: "other/file.log"}, "x", "docs/report.docx"},
		{"no path", parsers.RecordError{Parser: "x"}, "x", "docs/report.docx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			re := tt.re
			re.Offset, re.Record, re.Err = 512, 3, bad
			w := recordWarning(timeline.WarnRecord, it, e, "matched", &re)
			want := timeline.Warning{Kind: timeline.WarnRecord, Evidence: "e1", Chain: e.Chain, Path: tt.path,
				Parser: tt.wantParser, Offset: 512, Record: 3, Message: "bad record"}
			if w.Kind != want.Kind || w.Evidence != want.Evidence || w.Path != want.Path || w.Parser != want.Parser ||
				w.Offset != want.Offset || w.Record != want.Record || w.Message != want.Message || len(w.Chain) != 1 {
				t.Errorf("got %+v\nwant %+v", w, want)
			}
		})
	}
}
