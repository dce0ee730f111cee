package mysql

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/dblog"
	"github.com/jejak-forensics/jejak/timeline"
)

func build(rec *record, src *parsers.Source) (*timeline.Event, error) {
	switch rec.kind {
	case kGeneral:
		return general(rec, src)
	case kError:
		return errorRecord(rec, src)
	default:
		return slow(rec, src)
	}
}

// placeTime reads the three time shapes MySQL writes: ISO 8601 with a zone
// (5.7+, log_timestamps), "YYYY-MM-DD hh:mm:ss" (MariaDB) and "YYMMDD
// hh:mm:ss" (5.6 and older), the last two in the server's local time.
func placeTime(ev *timeline.Event, ts string, src *parsers.Source) error {
	if ts == "" {
		return errors.New("record without a time and none before it")
	}
	if strings.Contains(ts, "T") {
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			return err
		}
		ev.Timestamp = t.UTC()
		return nil
	}
	layout := "2006-01-02 15:04:05"
	if len(ts) == 15 && ts[6] == ' ' {
		layout = "060102 15:04:05"
	}
	wall, err := time.Parse(layout, strings.Replace(ts, "  ", " 0", 1))
	if err != nil {
		return err
	}
	zone := src.Zone
	if zone == nil {
		zone = time.UTC
	}
	dblog.Place(ev, wall, zone, true)
	return nil
}

var (
	connectArg = regexp.MustCompile(`^(\S+)@(\S+) on (\S*)`)
	denied     = regexp.MustCompile(`Access denied for user '([^']*)'@'([^']*)'`)
)

func general(rec *record, src *parsers.Source) (*timeline.Event, error) {
	id, command, arg := rec.m[2], rec.m[3], rec.m[4]
	if len(rec.lines) > 0 {
		arg = strings.TrimRight(arg+"\n"+strings.Join(rec.lines, "\n"), "\n")
	}
	msg := command
	if arg != "" {
		msg += " " + arg
	}
	ev := dblog.NewEvent("mysql.general", msg)
	if err := placeTime(ev, rec.ts, src); err != nil {
		return nil, err
	}
	ev.Jejak.Data["connection_id"] = id
	ev.Jejak.Data["command"] = command
	switch command {
	case "Connect":
		if m := denied.FindStringSubmatch(arg); m != nil {
			dblog.AuthFailed(ev)
			dblog.SetUser(ev, m[1])
			setHost(ev, m[2])
		} else {
			dblog.Connected(ev)
			if m := connectArg.FindStringSubmatch(arg); m != nil {
				dblog.SetUser(ev, m[1])
				setHost(ev, m[2])
				dblog.SetDB(ev, m[3])
			}
		}
	case "Quit":
		dblog.Disconnected(ev)
	case "Query", "Execute", "Prepare":
		dblog.Statement(ev, arg)
	case "Init DB":
		ev.Event.Action = "db_change_database"
		dblog.SetDB(ev, strings.TrimSpace(arg))
	default:
		ev.Event.Action = "db_" + strings.ToLower(strings.ReplaceAll(command, " ", "_"))
	}
	return ev, nil
}

func setHost(ev *timeline.Event, host string) {
	if looksLikeIP(host) {
		dblog.SetSource(ev, host, "")
		return
	}
	ev.Jejak.Data["client.host"] = host
}

func looksLikeIP(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c == '.' || c == ':' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return strings.ContainsAny(s, ".:")
}

func errorRecord(rec *record, src *parsers.Source) (*timeline.Event, error) {
	thread, level, code, subsystem, msg := rec.m[2], rec.m[3], rec.m[4], rec.m[5], rec.m[6]
	if len(rec.lines) > 0 {
		msg += "\n" + strings.Join(rec.lines, "\n")
	}
	ev := dblog.NewEvent("mysql.error", rec.m[0])
	if len(rec.lines) > 0 {
		ev.Message += "\n" + strings.Join(rec.lines, "\n")
	}
	if err := placeTime(ev, rec.ts, src); err != nil {
		return nil, err
	}
	if level != "" {
		ev.Log = &timeline.Log{Level: strings.ToLower(level), Logger: subsystem}
	}
	ev.Event.Code = code
	if thread != "" {
		ev.Jejak.Data["thread_id"] = thread
	}
	ev.Jejak.Data["error_message"] = msg
	switch {
	case denied.MatchString(msg):
		m := denied.FindStringSubmatch(msg)
		dblog.AuthFailed(ev)
		dblog.SetUser(ev, m[1])
		setHost(ev, m[2])
	case strings.Contains(msg, "ready for connections"):
		dblog.ServerStarted(ev)
	case shutdownComplete(msg):
		dblog.ServerStopped(ev)
	default:
		dblog.Message(ev, strings.EqualFold(level, "ERROR"))
	}
	return ev, nil
}

// shutdownComplete tells the server's last line, "mysqld: Shutdown
// complete", from InnoDB's "Shutdown completed; log sequence number ...",
// which comes before it.
func shutdownComplete(msg string) bool {
	i := strings.Index(msg, "Shutdown complete")
	return i >= 0 && !strings.HasPrefix(msg[i+len("Shutdown complete"):], "d")
}

var (
	userHost = regexp.MustCompile(`^# User@Host: (\S*)\[[^\]]*\] @ (\S*) \[([^\]]*)\](?:\s+Id:\s+(\d+))?`)
	slowKV   = regexp.MustCompile(`(\w+): (\S+)`)
	setTS    = regexp.MustCompile(`^SET timestamp=(\d+);$`)
	useDB    = regexp.MustCompile("^use `?([^`;]+)`?;$")
)

func slow(rec *record, src *parsers.Source) (*timeline.Event, error) {
	ev := dblog.NewEvent("mysql.slowlog", "")
	var stmt []string
	setTime := ""
	for _, l := range rec.lines {
		switch {
		case strings.HasPrefix(l, "# User@Host: "):
			if m := userHost.FindStringSubmatch(l); m != nil {
				dblog.SetUser(ev, m[1])
				if m[3] != "" {
					dblog.SetSource(ev, m[3], "")
				} else if m[2] != "" {
					ev.Jejak.Data["client.host"] = m[2]
				}
				if m[4] != "" {
					ev.Jejak.Data["connection_id"] = m[4]
				}
			}
		case strings.HasPrefix(l, "# "):
			for _, kv := range slowKV.FindAllStringSubmatch(l, -1) {
				if kv[1] == "Schema" {
					dblog.SetDB(ev, kv[2])
				} else {
					ev.Jejak.Data[strings.ToLower(kv[1])] = kv[2]
				}
			}
		case setTS.MatchString(l):
			setTime = setTS.FindStringSubmatch(l)[1]
			ev.Jejak.Data["set_timestamp"] = setTime
		case useDB.MatchString(l):
			dblog.SetDB(ev, useDB.FindStringSubmatch(l)[1])
		default:
			stmt = append(stmt, l)
		}
	}
	switch {
	case rec.ts != "":
		if err := placeTime(ev, rec.ts, src); err != nil {
			return nil, err
		}
	case setTime != "":
		// Without "# Time:" (older servers skip it within one second) the
		// statement's own SET timestamp is the time, in Unix seconds.
		sec, _ := strconv.ParseInt(setTime, 10, 64)
		ev.Timestamp = time.Unix(sec, 0).UTC()
	default:
		return nil, errors.New("slow-log entry without # Time: or SET timestamp")
	}
	if len(stmt) == 0 {
		return nil, errors.New("slow-log entry without a statement")
	}
	s := strings.Join(stmt, "\n")
	dblog.Statement(ev, s)
	ev.Message = s
	return ev, nil
}
