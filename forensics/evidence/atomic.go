package evidence

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/jejak-forensics/jejak/internal/atomicfile"
)

// writeFileAtomic replaces path with data so a reader (or a crash) sees the
// old file or the new one, never half of either. Case files stay 0600: the
// case folder is the examiner's.
func writeFileAtomic(path string, data []byte) error {
	return atomicfile.WriteFile(path, data, 0o600)
}

func writeJSONAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Base(path), err)
	}
	return writeFileAtomic(path, append(b, '\n'))
}

// readJSON decodes a case file, naming the file in every error so an
// examiner knows which one is missing or damaged.
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return fmt.Errorf("%s is missing: %w", path, err)
		}
		return fmt.Errorf("read %s: %w", path, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s is malformed: %w", path, err)
	}
	return nil
}
