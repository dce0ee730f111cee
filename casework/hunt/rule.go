package hunt

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/bradleyjkemp/sigma-go"
	"gopkg.in/yaml.v3"
)

// Rule is one detection: a Sigma detection over single events or the name
// of a Go analyzer, with what a report needs to say about it.
type Rule struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Severity    Severity `json:"severity"`
	Technique   string   `json:"technique,omitempty"`
	Description string   `json:"description"`
	// Analyzer names the Go analyzer of a built-in rule; empty for a Sigma
	// detection.
	Analyzer string `json:"analyzer,omitempty"`
	// Parameters tune the analyzer (thresholds, windows), as written in the
	// rule file.
	Parameters map[string]string `json:"parameters,omitempty"`
	// Logsource is the Sigma log source of a detection.
	Logsource string `json:"logsource,omitempty"`
	// YieldsTo names the rules whose findings' event rows this rule does
	// not count (overlap.go): the rule that describes an activity better
	// keeps its rows.
	YieldsTo []string `json:"yields_to,omitempty"`
	// Source is where the rule was read: "builtin:rules/NAME.yml" or a path.
	Source string `json:"source"`
	// SHA256 is the hash of the rule file, so a report names the exact text
	// that produced a finding.
	SHA256 string `json:"sha256"`

	sigma *sigmaRule
}

// Kind is "analyzer" or "sigma".
func (r *Rule) Kind() string {
	if r.Analyzer != "" {
		return "analyzer"
	}
	return "sigma"
}

//go:embed rules/*.yml
var builtinFS embed.FS

// ownRule is the layout of jejak's own rule files: Sigma's header fields
// with severity and technique spelled out, and either an analyzer or a
// Sigma logsource + detection.
type ownRule struct {
	ID          string            `yaml:"id"`
	Title       string            `yaml:"title"`
	Severity    string            `yaml:"severity"`
	Technique   string            `yaml:"technique"`
	Description string            `yaml:"description"`
	Analyzer    string            `yaml:"analyzer"`
	Parameters  map[string]string `yaml:"parameters"`
	YieldsTo    []string          `yaml:"yields_to"`
	Detection   yaml.Node         `yaml:"detection"`
}

// Builtin returns jejak's own rules, in ID order. They are compiled into
// the binary; an error here is a bug caught by the tests.
func Builtin() ([]*Rule, error) {
	files, err := fs.Glob(builtinFS, "rules/*.yml")
	if err != nil {
		return nil, err
	}
	var out []*Rule
	var errs []error
	for _, name := range files {
		b, err := builtinFS.ReadFile(name)
		if err != nil {
			return nil, err
		}
		r, err := parseOwnRule(b, "builtin:"+name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *Rule) int { return strings.Compare(a.ID, b.ID) })
	for i := 1; i < len(out); i++ {
		if out[i].ID == out[i-1].ID {
			errs = append(errs, fmt.Errorf("rule ID %s used by %s and %s", out[i].ID, out[i-1].Source, out[i].Source))
		}
	}
	return out, errors.Join(errs...)
}

func parseOwnRule(b []byte, source string) (*Rule, error) {
	var o ownRule
	if err := yaml.Unmarshal(b, &o); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	sev, err := ParseSeverity(o.Severity)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	r := &Rule{ID: o.ID, Title: o.Title, Severity: sev, Technique: o.Technique,
		Description: strings.TrimSpace(o.Description), Analyzer: o.Analyzer, Parameters: o.Parameters,
		YieldsTo: o.YieldsTo, Source: source, SHA256: sum(b)}
	if err := checkYields(r); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	switch {
	case r.ID == "" || r.Title == "" || r.Description == "":
		return nil, fmt.Errorf("%s: a rule needs id, title and description", source)
	case (r.Analyzer == "") == (o.Detection.Kind == 0):
		return nil, fmt.Errorf("%s: a rule has either an analyzer or a detection", source)
	case r.Analyzer != "":
		if _, ok := analyzers[r.Analyzer]; !ok {
			return nil, fmt.Errorf("%s: unknown analyzer %q", source, r.Analyzer)
		}
		return r, nil
	}
	sr, err := sigma.ParseRule(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	if r.sigma, err = compileSigma(sr); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	r.Logsource = logsourceString(sr.Logsource)
	return r, nil
}

// LoadProblem says why a file under a --rules folder was not used.
type LoadProblem struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// LoadSigma reads every Sigma rule (*.yml, *.yaml) under the given files or
// folders, as found in a SigmaHQ checkout. Files that are not rules (Sigma
// configs), deprecated rules, and rules this engine cannot evaluate
// faithfully (unmapped log sources, unsupported modifiers, aggregations) are
// reported as problems, never half-applied.
func LoadSigma(paths ...string) ([]*Rule, []LoadProblem, error) {
	var rules []*Rule
	var problems []LoadProblem
	for _, root := range paths {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !(strings.HasSuffix(p, ".yml") || strings.HasSuffix(p, ".yaml")) {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			r, why := parseSigmaFile(b, p)
			if why != "" {
				problems = append(problems, LoadProblem{Path: p, Reason: why})
				return nil
			}
			rules = append(rules, r)
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("read Sigma rules: %w", err)
		}
	}
	slices.SortFunc(rules, func(a, b *Rule) int {
		if c := strings.Compare(a.ID, b.ID); c != 0 {
			return c
		}
		return strings.Compare(a.Source, b.Source)
	})
	// One ID, one rule: a checkout may hold a rule twice (e.g. a copy in a
	// local folder); the first by path wins and the other is reported.
	out := rules[:0]
	for i, r := range rules {
		if i > 0 && r.ID == rules[i-1].ID {
			problems = append(problems, LoadProblem{Path: r.Source, Reason: "duplicate rule id " + r.ID + " (also in " + rules[i-1].Source + ")"})
			continue
		}
		out = append(out, r)
	}
	return out, problems, nil
}

func parseSigmaFile(b []byte, path string) (*Rule, string) {
	if sigma.InferFileType(b) != sigma.RuleFile {
		return nil, "not a Sigma rule (config or other YAML)"
	}
	sr, err := sigma.ParseRule(b)
	if err != nil {
		// A wildcard quantifier sigma-go's lexer rejects: parse the
		// equivalent explicit condition (the file's hash stays the
		// original's).
		if b2, ok := expandConditionWildcards(b); ok {
			if sr2, err2 := sigma.ParseRule(b2); err2 == nil {
				sr, err = sr2, nil
			}
		}
	}
	if err != nil {
		return nil, "cannot parse: " + err.Error()
	}
	switch strings.ToLower(sr.Status) {
	case "deprecated", "unsupported":
		return nil, "rule status is " + sr.Status
	}
	sev := Medium
	if sr.Level != "" {
		if sev, err = ParseSeverity(sr.Level); err != nil {
			return nil, err.Error()
		}
	}
	id := sr.ID
	if id == "" {
		id = "sigma:" + filepath.Base(path)
	}
	r := &Rule{ID: id, Title: sr.Title, Severity: sev, Technique: techniqueFromTags(sr.Tags),
		Description: strings.TrimSpace(sr.Description), Logsource: logsourceString(sr.Logsource),
		Source: path, SHA256: sum(b)}
	if r.sigma, err = compileSigma(sr); err != nil {
		return nil, err.Error()
	}
	return r, ""
}

var techniqueTag = regexp.MustCompile(`^attack\.(t\d{4}(?:\.\d{3})?)$`)

// techniqueFromTags picks the most specific ATT&CK technique a Sigma rule
// is tagged with (a sub-technique over its parent).
func techniqueFromTags(tags []string) string {
	best := ""
	for _, t := range tags {
		if m := techniqueTag.FindStringSubmatch(strings.ToLower(t)); m != nil && len(m[1]) > len(best) {
			best = m[1]
		}
	}
	return strings.ToUpper(best)
}

func logsourceString(l sigma.Logsource) string {
	var parts []string
	for _, kv := range [][2]string{{"product", l.Product}, {"service", l.Service}, {"category", l.Category}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+":"+kv[1])
		}
	}
	return strings.Join(parts, " ")
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
