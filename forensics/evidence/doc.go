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
//	custody.sig        the examiner's ed25519 signature of each entry, when the
//	                   case is signed (sign.go, custody_sign.go)
//	manifests/<id>.json  per-file manifest of each folder registered as evidence
//	case.db            reserved for the event store (created by timeline/store)
//	tmp/               spool space for commands that need to decompress
//
// The chain is bound to the rest of the case, so that a consistent-looking
// chain over changed files is caught too: entries record the SHA-256 of
// case.json and evidence.json when a command writes them, commands record
// digests of the store's rows, and Case.Audit checks each of these, the
// registry against the entries that built it, and the signatures, one
// Check at a time (custody_audit.go).
package evidence
