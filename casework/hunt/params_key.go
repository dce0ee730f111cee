package hunt

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Params are what a hunt's findings depend on: a hunt's stored identity.
// Their hash (Key) is the key under which the findings are stored, so a hunt
// with the same parameters replaces its earlier findings and one with other
// parameters is kept beside them. The JSON field names and order are part of
// that key: changing them changes the key of every stored hunt.
type Params struct {
	After        time.Time `json:"after"`
	Before       time.Time `json:"before,omitzero"`
	Rules        []string  `json:"rules"` // ID@sha256 of every rule run
	Watch        []string  `json:"watch,omitempty"`
	WorkingHours string    `json:"working_hours,omitempty"`
	Zone         string    `json:"zone"`
	// MinSeverity: findings below it were not stored (omitted when every
	// finding was, so earlier hunts keep their keys).
	MinSeverity string `json:"min_severity,omitempty"`
}

// Key is the stable key a hunt with these parameters is stored under: the
// first 16 bytes of the SHA-256 of their JSON, in hex.
func (p Params) Key() string {
	pj, err := json.Marshal(p)
	if err != nil {
		// Params hold only times, strings and string slices: Marshal
		// cannot fail on them.
		panic(fmt.Sprintf("hunt params: %v", err))
	}
	key := sha256.Sum256(pj)
	return hex.EncodeToString(key[:16])
}

// ParamsFor are the parameters of a hunt run with cfg: its window, the
// rules of cfg.Rules by ID and content hash, the watched paths, the working
// hours, the zone (a nil zone is UTC, as time.Location says) and the
// minimum severity. Times are in UTC: the same instant given in another
// zone is the same hunt, under the same key.
func ParamsFor(cfg Config) Params {
	p := Params{After: cfg.After.UTC(), Before: cfg.Before.UTC(), Watch: cfg.Watch, Zone: cfg.Zone.String()}
	for _, r := range cfg.Rules {
		p.Rules = append(p.Rules, r.ID+"@"+r.SHA256)
	}
	if cfg.WorkingHours != nil {
		p.WorkingHours = cfg.WorkingHours.String()
	}
	if cfg.MinSeverity > Informational {
		p.MinSeverity = cfg.MinSeverity.String()
	}
	return p
}

// RecordParams is what the case stores beside a hunt's findings: its
// parameters, and the verdict on every log whose record sequence was
// judged. An intact log is no finding, but the report lists it. The key
// stays the hash of the parameters alone.
type RecordParams struct {
	Params
	Logs []LogVerdict `json:"logs_examined,omitempty"`
}
