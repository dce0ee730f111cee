package syslog

import (
	"reflect"
	"testing"
	"time"
)

// TestRecordLikeLine: Record makes of (ident, pid, body, host, facility,
// severity, time) the event Parse makes of the same record written as an
// RFC 5424 line, field for field apart from the header fields only a line
// has (version, the line's provenance).
func TestRecordLikeLine(t *testing.T) {
	at := time.Date(2024, 2, 14, 12, 5, 1, 250000000, time.UTC)
	for _, c := range []struct{ ident, pid, body string }{
		{"sshd", "4242", "Failed password for root from 203.0.113.5 port 4242 ssh2"},
		{"sshd", "4242", "Accepted publickey for admin from 2001:db8::7 port 50022 ssh2: ED25519 SHA256:abc"},
		{"sudo", "4300", "   admin : TTY=pts/0 ; PWD=/root ; USER=root ; COMMAND=/usr/sbin/useradd backup"},
		{"useradd", "77", "new user: name=backup, UID=1001, GID=1001, home=/home/backup, shell=/bin/bash, from=/dev/pts/0"},
		{"sshd", "9", "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.9  user=root"},
		{"kernel", "", "usb 1-1: new high-speed USB device number 2 using xhci_hcd"},
	} {
		line := "<86>1 2024-02-14T12:05:01.25Z kpu-tabulasi-01 " + c.ident + " " + nilOr(c.pid) + " - - " + c.body + "\n"
		res := parseBytes(t, "x.log", []byte(line), at, time.UTC)
		if len(res.Events) != 1 {
			t.Fatalf("%q: %d events", line, len(res.Events))
		}
		want := res.Events[0]
		got := Record(c.ident, c.pid, c.body, "kpu-tabulasi-01", 10, 6, at)
		got.Jejak.Provenance = want.Jejak.Provenance
		got.Jejak.ID = want.Jejak.ID
		got.Related = want.Related
		want.Log.Syslog.Version = ""
		// A line parser drops the blanks after "tag:"; Record keeps the
		// body as given.
		if got.Message != c.ident+"["+c.pid+"]: "+c.body && c.pid != "" {
			t.Errorf("message %q", got.Message)
		}
		got.Message = want.Message
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: Record\n%+v\nline\n%+v", c.body, got, want)
		}
		if c.ident == "sshd" && got.Event.Action == "" {
			t.Errorf("%s: not normalised", c.body)
		}
	}
	// A severity without a facility claims no facility.
	ev := Record("sshd", "", "Connection closed by 203.0.113.5 port 22", "h", -1, 3, at)
	if ev.Log.Level != "err" || ev.Log.Syslog.Facility != nil {
		t.Errorf("severity only: level %q facility %+v", ev.Log.Level, ev.Log.Syslog.Facility)
	}
}

func nilOr(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
