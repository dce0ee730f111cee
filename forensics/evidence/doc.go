// Package evidence holds a case folder: the case description, the registry of
// evidence items with their hashes, and the hash-chained chain-of-custody log.
//
// A case folder looks like this (nothing is ever written outside it, and the
// evidence itself is only ever opened read-only):
//
//	case.json          name, examiner, zone, creation time, tool and format version
//	evidence.json      the evidence registry, rewritten atomically (temp + rename);
//	                   a file item lists each segment file of its image set
//	                   with its own hash (the file alone when not a set)
//	custody.log        append-only JSONL custody log, one hash-chained entry a line
//	custody.head       seq and hash of the last custody entry, so a log cut short
//	                   at a line boundary is still detected
//	manifests/<id>.json  per-file manifest of each folder registered as evidence
//	case.db            reserved for the event store (created by timeline/store)
//	tmp/               spool space for commands that need to decompress
package evidence
