package hunt

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// keepingSearcher reads a store with Search (every event decoded whole,
// nothing shared, nothing reused), keeps every event handed out with its
// JSON at that moment, so that a test can tell whether anything changed
// an event afterwards.
type keepingSearcher struct {
	s    Searcher
	evs  []*timeline.Event
	docs [][]byte
}

func (k *keepingSearcher) Search(ctx context.Context, q timeline.Query, fn func(*timeline.Event) error) error {
	return k.s.Search(ctx, q, func(ev *timeline.Event) error {
		doc, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		k.evs, k.docs = append(k.evs, ev), append(k.docs, doc)
		return fn(ev)
	})
}

// TestRulesChangeNoEvent: the sqlite store's transient read shares equal
// sub-objects between events (an event meta, a host, a jejak.data map:
// timeline/store/sqlite/decodememo.go), which is sound only if no rule
// changes an event or what it points to. Over Windows, sshd, syslog,
// auditd and web server logs, with a cut-off in their midst so that both
// the baseline and the findings' paths run: no event handed to the rules
// is changed by the end of the hunt, and the findings are those of the
// store's own (transient, projected, shared) read, byte for byte.
func TestRulesChangeNoEvent(t *testing.T) {
	st := buildCase(t, "logs/windows/security.evtx", "logs/windows/new-user-security.evtx",
		"logs/loghub/OpenSSH_2k.log", "logs/syslog/syslog_ssh.log", "logs/syslog/syslog",
		"logs/linux/audit_enriched.log", "logs/web/apache_access.log")
	for _, after := range []time.Time{{}, time.Date(2016, 7, 9, 0, 0, 0, 0, time.UTC)} {
		cfg := Config{After: after}
		direct, err := json.Marshal(hunt(t, st, cfg))
		if err != nil {
			t.Fatal(err)
		}
		k := &keepingSearcher{s: st}
		fs, err := Hunt(context.Background(), k, cfg)
		if err != nil {
			t.Fatal(err)
		}
		kept, err := json.Marshal(fs)
		if err != nil {
			t.Fatal(err)
		}
		if len(k.evs) < 1000 {
			t.Fatalf("after %v: %d events read, want the whole case", after, len(k.evs))
		}
		for i, ev := range k.evs {
			doc, err := json.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			if string(doc) != string(k.docs[i]) {
				t.Fatalf("after %v: event %s changed during the hunt\n was %s\n now %s", after, ev.Jejak.ID, k.docs[i], doc)
			}
		}
		if string(direct) != string(kept) {
			t.Errorf("after %v: findings of the store's transient read differ from those of a whole read (%d and %d bytes)", after, len(direct), len(kept))
		}
		if len(direct) < 100 {
			t.Errorf("after %v: %s: too few findings to tell", after, direct)
		}
	}
}
