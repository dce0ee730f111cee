//go:build !unix

package evidence

import "os"

// Elsewhere there is no flock; Case.mu still serialises one process.
func lockFile(*os.File) error   { return nil }
func unlockFile(*os.File) error { return nil }
