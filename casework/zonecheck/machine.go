package zonecheck

import (
	"fmt"
	"strconv"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// MachineZoneQuery selects the events that state a machine's own time zone:
// the TimeZoneInformation of a Windows SYSTEM hive (parsers/registry).
const MachineZoneQuery = "event.action:time-zone and event.dataset:windows.registry.system"

// StatesMachineZone reports whether ev is one MachineZoneQuery selects, so
// that ingest can keep them as they are written instead of querying the
// store for them afterwards (a scan of every stored row).
func StatesMachineZone(ev *timeline.Event) bool {
	return ev.Event.Action == "time-zone" && ev.Event.Dataset == "windows.registry.system"
}

// MachineZone compares a machine's own time zone, as its SYSTEM hive states
// it, with the case zone at the time the hive's key was written. Logs that
// machine wrote without a zone (IIS, SQL Server's ERRORLOG, setupapi, the
// firewall log) were read in the case zone: when the two differ, every
// such time of that evidence is off by the difference, and the warning
// names the --tz that reads them right. ok is false when they agree or
// the event does not state a zone.
func MachineZone(ev *timeline.Event, caseZone *time.Location) (w timeline.Warning, ok bool) {
	d := ev.Jejak.Data
	bias, err := strconv.Atoi(d["registry.tz_bias"])
	if err != nil || caseZone == nil {
		return w, false
	}
	machine := time.FixedZone(d["registry.tz_name"], -bias*60)
	name := d["registry.tz_iana"]
	if name != "" {
		if loc, err := time.LoadLocation(name); err == nil {
			machine = loc
		}
	} else if z := SuggestZone(time.Duration(-bias) * time.Minute); z != "" && bias%60 == 0 {
		name = z
	} else {
		name = "(no IANA zone known for it: the zone of the machine's place)"
	}
	_, mOff := ev.Timestamp.In(machine).Zone()
	_, cOff := ev.Timestamp.In(caseZone).Zone()
	if mOff == cOff {
		return w, false
	}
	p := ev.Jejak.Provenance
	return timeline.Warning{
		Kind: timeline.WarnZone, Evidence: p.EvidenceSHA256, Chain: p.Chain, Path: p.Path, Parser: p.Parser,
		Offset: p.Offset, Record: p.Record,
		Message: fmt.Sprintf("this Windows machine's time zone is %s (UTC%s on %s, its SYSTEM hive says), the case zone %s (UTC%s): "+
			"its logs written in local time without a zone were read %v off; read them with --tz %s in a new case",
			d["registry.tz_name"], hhmm(time.Duration(mOff)*time.Second), ev.Timestamp.UTC().Format("2006-01-02"), caseZone,
			hhmm(time.Duration(cOff)*time.Second), time.Duration(mOff-cOff)*time.Second, name),
	}, true
}
