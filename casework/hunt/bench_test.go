package hunt

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

// BenchmarkHunt1M hunts a case of one million events written straight into
// the SQLite store: sshd syslog (failures, logons), Windows Security
// records, web access lines, database statements and file times, in the
// proportions of a busy tabulation server.
func BenchmarkHunt1M(b *testing.B) {
	const n = 1_000_000
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "case.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	base := time.Date(2024, 2, 14, 0, 0, 0, 0, time.UTC)
	batch := make([]*timeline.Event, 0, 20000)
	for i := 0; i < n; i++ {
		batch = append(batch, synthetic(i, base))
		if len(batch) == cap(batch) {
			if _, err := st.Write(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if _, err := st.Write(ctx, batch); err != nil {
		b.Fatal(err)
	}
	cfg := Config{After: base.Add(48 * time.Hour), Watch: []string{"/var/lib/postgresql"}, WorkingHours: &WorkingHours{Start: 7 * time.Hour, End: 19 * time.Hour, Zone: time.UTC}}
	b.ResetTimer()
	for b.Loop() {
		fs := hunt(b, st, cfg)
		if len(fs) == 0 {
			b.Fatal("no findings")
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func synthetic(i int, base time.Time) *timeline.Event {
	t := base.Add(time.Duration(i) * 345 * time.Millisecond) // ~4 days
	ev := &timeline.Event{Timestamp: t, TimestampDesc: "Event Time"}
	ip := fmt.Sprintf("198.51.%d.%d", i%7, i%251)
	file := "var/log/auth.log"
	parser := "syslog"
	switch i % 10 {
	case 0, 1, 2: // sshd failures and logons
		ev.Event = timeline.EventMeta{Kind: "event", Action: "ssh_failed_login", Outcome: "failure", Category: []string{"authentication"}}
		if i%30 == 0 {
			ev.Event.Action, ev.Event.Outcome = "ssh_login", "success"
		}
		ev.User = &timeline.User{Name: "user" + strconv.Itoa(i%13)}
		ev.Source = &timeline.Endpoint{IP: ip, Port: 40000 + i%20000}
		ev.Process = &timeline.Process{Name: "sshd", PID: int64(1000 + i%5000)}
		ev.Message = "Failed password for " + ev.User.Name + " from " + ip + " port 22 ssh2"
	case 3, 4, 5: // Windows Security
		file, parser = "Windows/System32/winevt/Logs/Security.evtx", "evtx"
		id := []int{4624, 4625, 4672, 4688, 4634}[i%5]
		ev.TimestampDesc = "Creation Time"
		ev.Winlog = &timeline.Winlog{Channel: "Security", EventID: id, RecordID: uint64(i/10*3 + i%10 - 2), ComputerName: "TAB-01",
			ProviderName: "Microsoft-Windows-Security-Auditing", EventData: map[string]string{"SubjectUserName": "SYSTEM", "TargetUserName": "operator", "LogonType": "3", "IpAddress": ip}}
		ev.Event = timeline.EventMeta{Kind: "event", Code: strconv.Itoa(id)}
		ev.Message = "Security event " + strconv.Itoa(id)
	case 6, 7: // web
		file, parser = "var/log/apache2/access.log", "weblog"
		ev.Source = &timeline.Endpoint{IP: ip}
		p := []string{"/", "/hasil", "/static/app.js", "/admin/login", "/api/tps/" + strconv.Itoa(i%900)}[i%5]
		ev.URL = &timeline.URL{Original: p, Path: p}
		ev.HTTP = &timeline.HTTP{Request: &timeline.HTTPRequest{Method: "GET"}, Response: &timeline.HTTPResponse{StatusCode: 200}}
		ev.Message = "GET " + p
	case 8: // database
		file, parser = "var/log/postgresql/postgresql-16-main.log", "postgresql"
		ev.User = &timeline.User{Name: "tabulasi"}
		ev.Jejak.Data = map[string]string{"db.name": "pemilu", "db.statement": "UPDATE suara SET jumlah = jumlah + 1 WHERE tps = " + strconv.Itoa(i%900), "db.statement.verb": "UPDATE"}
		ev.Jejak.Tags = []string{"db_write"}
		ev.Event = timeline.EventMeta{Kind: "event", Action: "db_statement"}
		ev.Message = ev.Jejak.Data["db.statement"]
	default: // file times
		parser = "filestat"
		ev.TimestampDesc = "Content Modification Time"
		ev.File = &timeline.File{Path: "/var/lib/postgresql/16/main/base/16384/" + strconv.Itoa(i%500)}
		ev.Event = timeline.EventMeta{Kind: "event", Action: "file_mtime"}
		ev.Message = "Content Modification Time of " + ev.File.Path
	}
	ev.Jejak.Provenance = timeline.Provenance{EvidenceSHA256: "bench", EvidenceName: "server.tgz", Chain: []string{"gzip:", "tar:" + file},
		Path: file, Offset: int64(i) * 120, Record: int64(i + 1), Parser: parser}
	ev.Finalize()
	return ev
}
