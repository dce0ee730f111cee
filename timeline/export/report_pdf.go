package export

import (
	"errors"
	"io"
)

func writePDF(w io.Writer, v *view) error { return errors.New("pdf: not yet") }
