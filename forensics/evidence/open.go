package evidence

import (
	"os"

	"github.com/jejak-forensics/jejak/internal/rofile"
)

// openEvidence opens evidence read-only without updating its access time
// where the OS allows (O_NOATIME, silently dropped when not permitted), so
// registering and verifying evidence does not alter its metadata. A FIFO,
// socket or device is refused without blocking.
func openEvidence(path string) (*os.File, error) { return rofile.Open(path) }
