package dblog

import (
	"strconv"
	"strings"

	"github.com/jejak-forensics/jejak/timeline"
)

// TimeDesc is what a database log time means (plaso: recorded_time).
const TimeDesc = "Recorded Time"

// NewEvent starts an event of the database category with its data map.
func NewEvent(dataset, message string) *timeline.Event {
	return &timeline.Event{
		TimestampDesc: TimeDesc,
		Message:       message,
		Event:         timeline.EventMeta{Kind: "event", Category: []string{"database"}, Dataset: dataset},
		Jejak:         timeline.Jejak{Data: map[string]string{}},
	}
}

// SetUser sets user.name unless the log wrote a placeholder.
func SetUser(ev *timeline.Event, name string) {
	switch name {
	case "", "-", "[unknown]", "unknown":
		return
	}
	if ev.User == nil {
		ev.User = &timeline.User{}
	}
	ev.User.Name = name
}

// SetDB records the database name in jejak.data (ECS has no field for it).
func SetDB(ev *timeline.Event, name string) {
	switch name {
	case "", "-", "[unknown]":
		return
	}
	ev.Jejak.Data["db.name"] = name
}

// SetPID sets process.pid from its decimal text.
func SetPID(ev *timeline.Event, pid string) {
	if n, err := strconv.ParseInt(strings.TrimSpace(pid), 10, 64); err == nil {
		if ev.Process == nil {
			ev.Process = &timeline.Process{}
		}
		ev.Process.PID = n
	}
}

// SetSource sets source.ip (and port when known).
func SetSource(ev *timeline.Event, ip string, port string) {
	if ip == "" || ip == "[local]" || ip == "localhost" {
		if ip != "" {
			ev.Jejak.Data["client.host"] = ip
		}
		return
	}
	ev.Source = &timeline.Endpoint{IP: ip}
	if p, err := strconv.Atoi(port); err == nil {
		ev.Source.Port = p
	}
}

// Statement marks an event as running a statement and classifies it.
func Statement(ev *timeline.Event, stmt string) {
	ev.Event.Action = "db_statement"
	ev.Jejak.Data["db.statement"] = stmt
	TagStatement(ev, stmt)
}

// AuthFailed marks a refused login.
func AuthFailed(ev *timeline.Event) {
	ev.Event.Action = "db_auth_failed"
	ev.Event.Category = appendOnce(ev.Event.Category, "authentication")
	ev.Event.Type = appendOnce(ev.Event.Type, "start")
	ev.Event.Outcome = "failure"
}

// Connected marks a successful login.
func Connected(ev *timeline.Event) {
	ev.Event.Action = "db_connect"
	ev.Event.Category = appendOnce(ev.Event.Category, "authentication")
	ev.Event.Type = appendOnce(ev.Event.Type, "start")
	ev.Event.Outcome = "success"
}

// Disconnected marks the end of a session.
func Disconnected(ev *timeline.Event) {
	ev.Event.Action = "db_disconnect"
	ev.Event.Type = appendOnce(ev.Event.Type, "end")
}

// MessageAction is the event.action of a server message that none of the
// marks above names.
const MessageAction = "db_message"

// ServerStarted marks the message a server logs when it accepts
// connections.
func ServerStarted(ev *timeline.Event) {
	ev.Event.Action, ev.Event.Type = "db_server_start", []string{"start"}
}

// ServerStopped marks the message a server logs when it has shut down.
func ServerStopped(ev *timeline.Event) {
	ev.Event.Action, ev.Event.Type = "db_server_stop", []string{"end"}
}

// Message marks any other server message, of event.type error when the
// server logged it as one.
func Message(ev *timeline.Event, isError bool) {
	ev.Event.Action = MessageAction
	ev.Event.Type = []string{"info"}
	if isError {
		ev.Event.Type = []string{"error"}
	}
}

// KV reads "k=v k2=v2" pairs (space or comma separated) from text.
func KV(text string) map[string]string {
	out := map[string]string{}
	for _, f := range strings.FieldsFunc(text, func(r rune) bool { return r == ' ' || r == ',' }) {
		if k, v, ok := strings.Cut(f, "="); ok {
			out[k] = v
		}
	}
	return out
}
