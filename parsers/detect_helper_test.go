package parsers_test

import (
	"context"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/timeline"
)

// lineParser accepts every line: two of them tie.
type lineParser struct{ name string }

func (p *lineParser) Name() string                      { return p.name }
func (p *lineParser) Match(_ *jfs.Entry, _ []byte) bool { return true }
func (p *lineParser) Parse(context.Context, *parsers.Source, func(*timeline.Event) error) error {
	return nil
}
