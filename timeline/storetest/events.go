package storetest

import (
	"fmt"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// base is a fixed instant with a non-zero nanosecond part, so a store that
// rounds to micro- or milliseconds fails the round trip.
var base = time.Date(2024, time.November, 5, 7, 31, 12, 123456789, time.UTC)

func i64(v int64) *int64 { return &v }

// Events returns a fresh set of finalised events shaped like those the
// parsers emit for an election-system audit: Windows logons and account
// changes, a cleared Security log, sshd failures, a web request, database
// writes and an MFT time. Some share a timestamp, so ordering must fall back
// to the ID. Every call returns new values, so a test can mutate them.
func Events() []*timeline.Event {
	evidence := "3f4a0c0d5b9e6c1e2a7d8f9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d"
	evs := []*timeline.Event{
		{
			Timestamp:     base,
			TimestampDesc: "Event Time",
			Message:       "An account was successfully logged on: KPU\\operator1 from 10.20.30.40 (type 10)",
			Event: timeline.EventMeta{Kind: "event", Category: []string{"authentication"}, Type: []string{"start"},
				Action: "logged-in", Outcome: "success", Code: "4624", Dataset: "windows.security",
				Provider: "Microsoft-Windows-Security-Auditing"},
			Host:   &timeline.Host{Name: "TALLY-SRV01"},
			User:   &timeline.User{Name: "operator1", Domain: "KPU", ID: "S-1-5-21-1004336348-1177238915-682003330-1104"},
			Source: &timeline.Endpoint{IP: "10.20.30.40", Port: 51123},
			Winlog: &timeline.Winlog{Channel: "Security", EventID: 4624, RecordID: 88213, ComputerName: "TALLY-SRV01",
				ProviderName: "Microsoft-Windows-Security-Auditing",
				EventData: map[string]string{"TargetUserName": "operator1", "TargetDomainName": "KPU",
					"LogonType": "10", "IpAddress": "10.20.30.40", "IpPort": "51123", "LogonProcessName": "User32 ",
					"AuthenticationPackageName": "Negotiate"},
				Logon: &timeline.WinlogLogon{Type: "RemoteInteractive", ID: "0x3e7a1f"}},
			Jejak: timeline.Jejak{Provenance: timeline.Provenance{EvidenceSHA256: evidence, EvidenceName: "tally-srv01.E01",
				Chain: []string{"ewf:", "gpt:p2", "ntfs:Windows/System32/winevt/Logs/Security.evtx"},
				Path:  "Windows/System32/winevt/Logs/Security.evtx", Offset: 1183744, Record: 88213, Parser: "evtx"}},
		},
		{
			Timestamp:     base, // same instant as the logon: ordering falls back to the ID
			TimestampDesc: "Event Time",
			Message:       "An account failed to log on: admin from 2001:db8::7",
			Event: timeline.EventMeta{Kind: "event", Category: []string{"authentication"}, Type: []string{"start"},
				Action: "logon-failed", Outcome: "failure", Code: "4625", Dataset: "windows.security"},
			User:   &timeline.User{Name: "admin", Domain: "TALLY-SRV01"},
			Source: &timeline.Endpoint{IP: "2001:db8::7"},
			Winlog: &timeline.Winlog{Channel: "Security", EventID: 4625, RecordID: 88214,
				EventData: map[string]string{"TargetUserName": "admin", "Status": "0xc000006d", "SubStatus": "0xc000006a"}},
			Jejak: timeline.Jejak{Provenance: timeline.Provenance{EvidenceSHA256: evidence, EvidenceName: "tally-srv01.E01",
				Chain: []string{"ewf:", "gpt:p2", "ntfs:Windows/System32/winevt/Logs/Security.evtx"},
				Path:  "Windows/System32/winevt/Logs/Security.evtx", Offset: 1185792, Record: 88214, Parser: "evtx"}},
		},
		{
			Timestamp:     base.Add(3*time.Minute + 1),
			TimestampDesc: "Event Time",
			Message:       "A user account was changed: observer2 by operator1",
			Event: timeline.EventMeta{Kind: "event", Category: []string{"iam"}, Type: []string{"user", "change"},
				Action: "modified-user-account", Outcome: "success", Code: "4738"},
			User:  &timeline.User{Name: "operator1", Target: &timeline.User{Name: "observer2", Domain: "KPU"}},
			Group: &timeline.Group{Name: "Administrators", ID: "S-1-5-32-544"},
			Winlog: &timeline.Winlog{Channel: "Security", EventID: 4738, RecordID: 88301,
				EventData: map[string]string{"TargetUserName": "observer2", "SubjectUserName": "operator1", "PasswordLastSet": "%%1794"}},
			Jejak: timeline.Jejak{Provenance: timeline.Provenance{EvidenceSHA256: evidence, EvidenceName: "tally-srv01.E01",
				Chain: []string{"ewf:", "gpt:p2", "ntfs:Windows/System32/winevt/Logs/Security.evtx"},
				Path:  "Windows/System32/winevt/Logs/Security.evtx", Offset: 1290240, Record: 88301, Parser: "evtx"},
				Tags: []string{"account-change"}},
		},
		{
			Timestamp:     base.Add(47 * time.Minute),
			TimestampDesc: "Event Time",
			Message:       "The audit log was cleared by operator1",
			Event: timeline.EventMeta{Kind: "event", Category: []string{"configuration"}, Type: []string{"deletion"},
				Action: "audit-log-cleared", Code: "1102", Severity: 4},
			User:   &timeline.User{Name: "operator1", Domain: "KPU"},
			Winlog: &timeline.Winlog{Channel: "Security", EventID: 1102, RecordID: 1},
			Jejak: timeline.Jejak{Provenance: timeline.Provenance{EvidenceSHA256: evidence, EvidenceName: "tally-srv01.E01",
				Chain: []string{"ewf:", "gpt:p2", "ntfs:Windows/System32/winevt/Logs/Security.evtx"},
				Path:  "Windows/System32/winevt/Logs/Security.evtx", Offset: 69632, Record: 1, Parser: "evtx"},
				Tags: []string{"log-cleared", "anti-forensics"}},
		},
		{
			Timestamp:     time.Date(2024, time.November, 5, 8, 2, 9, 0, time.FixedZone("WIB", 7*3600)),
			TimestampDesc: "Last Written Time",
			Message:       "Failed password for invalid user pemilu from 203.0.113.9 port 40022 ssh2",
			Event: timeline.EventMeta{Kind: "event", Category: []string{"authentication"}, Action: "ssh-login-failed",
				Outcome: "failure", Dataset: "system.auth", Timezone: "Asia/Jakarta"},
			Log: &timeline.Log{Syslog: &timeline.Syslog{Priority: 38, Facility: &timeline.Code{Code: 4, Name: "auth"},
				Severity: &timeline.Code{Code: 6, Name: "informational"}, Appname: "sshd", Hostname: "rekap-db", ProcID: "2211",
				Version: "1", MsgID: "-", StructuredData: map[string]map[string]string{
					"origin@32473": {"ip": "192.0.2.10", "software": "rsyslogd"}}}},
			Host:    &timeline.Host{Name: "rekap-db", Hostname: "rekap-db"},
			User:    &timeline.User{Name: "pemilu"},
			Source:  &timeline.Endpoint{IP: "203.0.113.9", Port: 40022},
			Process: &timeline.Process{Name: "sshd", PID: 2211},
			Jejak: timeline.Jejak{Provenance: timeline.Provenance{EvidenceSHA256: evidence, EvidenceName: "rekap-db-logs.tgz",
				Chain: []string{"gzip:", "tar:var/log/auth.log.1"}, Path: "var/log/auth.log.1", Offset: 40960, Record: 612, Parser: "syslog"},
				Time: &timeline.TimeNote{ZoneAssumed: "Asia/Jakarta", YearInferred: true, YearBasis: "file mtime 2024-11-06"},
				Data: map[string]string{"sshd_method": "password", "invalid_user": "true"}},
		},
		{
			Timestamp:     base.Add(2*time.Hour + 5*time.Microsecond),
			TimestampDesc: "Event Time",
			Message:       "POST /api/rekap/upload HTTP/1.1 200 5120",
			Event:         timeline.EventMeta{Kind: "event", Category: []string{"web"}, Type: []string{"access"}, Outcome: "success", Dataset: "nginx.access"},
			Source:        &timeline.Endpoint{IP: "198.51.100.23", Domain: "kecamatan-12.example"},
			Destination:   &timeline.Endpoint{IP: "192.0.2.10", Port: 443, Address: "192.0.2.10"},
			URL:           &timeline.URL{Original: "/api/rekap/upload?tps=0412", Path: "/api/rekap/upload", Query: "tps=0412", Domain: "sirekap.example"},
			HTTP: &timeline.HTTP{Version: "1.1", Request: &timeline.HTTPRequest{Method: "POST", Referrer: "-"},
				Response: &timeline.HTTPResponse{StatusCode: 200, Body: &timeline.HTTPBody{Bytes: i64(5120)}}},
			UserAgent: &timeline.UserAgent{Original: "Mozilla/5.0 (Linux; Android 13) SirekapApp/2.1"},
			Jejak: timeline.Jejak{Provenance: timeline.Provenance{EvidenceSHA256: evidence, EvidenceName: "rekap-db-logs.tgz",
				Chain: []string{"gzip:", "tar:var/log/nginx/access.log"}, Path: "var/log/nginx/access.log", Offset: 1048576, Record: 7301, Parser: "weblog"}},
		},
		{
			Timestamp:     base.Add(2*time.Hour + 6*time.Microsecond),
			TimestampDesc: "Event Time",
			Message:       "UPDATE rekap_suara SET suara = 1204 WHERE tps = '0412' AND paslon = 2",
			Event: timeline.EventMeta{Kind: "event", Category: []string{"database"}, Type: []string{"change"},
				Action: "db-write", Dataset: "mysql.general", Original: "241105  9:31:12\t   88 Query\tUPDATE rekap_suara SET suara = 1204 WHERE tps = '0412' AND paslon = 2"},
			User:    &timeline.User{Name: "rekap_app", Effective: &timeline.User{Name: "root"}},
			Process: &timeline.Process{Name: "mysqld", PID: 977, Executable: "/usr/sbin/mysqld", CommandLine: "/usr/sbin/mysqld --basedir=/usr", WorkingDir: "/var/lib/mysql"},
			Jejak: timeline.Jejak{Provenance: timeline.Provenance{EvidenceSHA256: evidence, EvidenceName: "rekap-db-logs.tgz",
				Chain: []string{"gzip:", "tar:var/log/mysql/general.log"}, Path: "var/log/mysql/general.log", Offset: 5121, Record: 88, Parser: "dblog"},
				Data: map[string]string{"thread_id": "88", "command": "Query"}},
		},
		{
			Timestamp:     time.Date(2024, time.October, 30, 23, 59, 59, 999999999, time.UTC),
			TimestampDesc: "Creation Time",
			Message:       "C:\\Pemilu\\rekap_tps_0412.xlsx",
			Event:         timeline.EventMeta{Kind: "event", Category: []string{"file"}, Type: []string{"creation"}},
			File:          &timeline.File{Path: "C:\\Pemilu\\rekap_tps_0412.xlsx", Name: "rekap_tps_0412.xlsx", Inode: "48211-3", Size: i64(40417)},
			Jejak: timeline.Jejak{Provenance: timeline.Provenance{EvidenceSHA256: evidence, EvidenceName: "tally-srv01.E01",
				Chain: []string{"ewf:", "gpt:p2", "ntfs:$MFT"}, Path: "$MFT", Offset: 49368064, Record: 48211, Parser: "mft"}},
		},
	}
	for _, e := range evs {
		e.Finalize()
	}
	return evs
}

// Many returns n distinct finalised events spread over a day, with runs of
// equal timestamps, for tests that must cross a store's page boundaries.
func Many(n int) []*timeline.Event {
	evs := make([]*timeline.Event, n)
	for i := range evs {
		e := &timeline.Event{
			// Groups of three share an instant; the order inside a group is the ID's.
			Timestamp:     base.Add(time.Duration(i/3) * 1731 * time.Microsecond),
			TimestampDesc: "Last Written Time",
			Message:       fmt.Sprintf("session opened for user u%04d by (uid=0)", i%97),
			Event:         timeline.EventMeta{Kind: "event", Category: []string{"session"}, Action: "session-opened"},
			User:          &timeline.User{Name: fmt.Sprintf("u%04d", i%97)},
			Source:        &timeline.Endpoint{IP: fmt.Sprintf("10.0.%d.%d", i/250%250, i%250+1)},
			Jejak: timeline.Jejak{Provenance: timeline.Provenance{
				EvidenceSHA256: "9b1c5e0e6a0a4f0e8b2d7c3a1f6e5d4c3b2a19080706050403020100ffeeddcc",
				EvidenceName:   "pemilu-logs.tar", Chain: []string{"tar:var/log/auth.log"},
				Path: "var/log/auth.log", Offset: int64(i) * 113, Record: int64(i + 1), Parser: "syslog"}},
		}
		e.Finalize()
		evs[i] = e
	}
	return evs
}
