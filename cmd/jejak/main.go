// Command jejak builds a forensic super-timeline from election IT evidence
// (disk images, log archives, folders of logs) and hunts it for traces of
// unauthorized access. See README.md for a tour.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr))
}
