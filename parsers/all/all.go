// Package all lists every parser compiled into jejak, in match order: the
// first parser whose Match accepts a file parses it, so formats recognised by
// magic bytes come first, then specific text formats, then generic syslog,
// and last the one matched only by file name (lastlog has no magic).
// Registration is explicit here, never by init().
package all

import (
	"runtime"

	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/auditd"
	"github.com/jejak-forensics/jejak/parsers/dblog/mysql"
	"github.com/jejak-forensics/jejak/parsers/dblog/postgresql"
	"github.com/jejak-forensics/jejak/parsers/defender"
	"github.com/jejak-forensics/jejak/parsers/dpkg"
	"github.com/jejak-forensics/jejak/parsers/evt"
	"github.com/jejak-forensics/jejak/parsers/evtx"
	"github.com/jejak-forensics/jejak/parsers/exif"
	"github.com/jejak-forensics/jejak/parsers/firewall"
	"github.com/jejak-forensics/jejak/parsers/journal"
	"github.com/jejak-forensics/jejak/parsers/jumplist"
	"github.com/jejak-forensics/jejak/parsers/lnk"
	"github.com/jejak-forensics/jejak/parsers/mft"
	"github.com/jejak-forensics/jejak/parsers/powershell"
	"github.com/jejak-forensics/jejak/parsers/prefetch"
	"github.com/jejak-forensics/jejak/parsers/recyclebin"
	"github.com/jejak-forensics/jejak/parsers/registry"
	"github.com/jejak-forensics/jejak/parsers/remoteaccess"
	"github.com/jejak-forensics/jejak/parsers/schtask"
	"github.com/jejak-forensics/jejak/parsers/setupapi"
	"github.com/jejak-forensics/jejak/parsers/shellhistory"
	"github.com/jejak-forensics/jejak/parsers/sqlserver"
	"github.com/jejak-forensics/jejak/parsers/syslog"
	"github.com/jejak-forensics/jejak/parsers/ual"
	"github.com/jejak-forensics/jejak/parsers/usnjrnl"
	"github.com/jejak-forensics/jejak/parsers/utmp"
	"github.com/jejak-forensics/jejak/parsers/weblog"
)

// Registry returns a registry of every parser. The text formats are also
// scored line by line on a sample from through a file whose head no parser
// takes (comment or garbage lines at the top): their Match judges a one-line
// head as it does a full one.
func Registry() *parsers.Registry {
	text := []parsers.Parser{
		// Text formats with distinctive lines.
		auditd.New(),
		firewall.New(),
		weblog.New(),
		postgresql.New(),
		mysql.New(),
		dpkg.New(),
		dpkg.NewAptHistory(),
		dpkg.NewAptTerm(),
		dpkg.NewAlternatives(),
		shellhistory.NewZsh(),
		shellhistory.New(),
		setupapi.New(),
		remoteaccess.NewTeamViewerConnections(),
		remoteaccess.NewTeamViewerLog(),
		remoteaccess.NewAnyDeskConnections(),
		remoteaccess.NewAnyDeskTrace(),
		sqlserver.New(),
		powershell.NewTranscript(),
		defender.New(),
		// Generic syslog after everything more specific.
		syslog.New(),
	}
	ps := []parsers.Parser{
		// Binary formats, by magic.
		evtx.New(runtime.GOMAXPROCS(0)),
		evt.New(),
		exif.New(),
		journal.New(),
		mft.New(),
		registry.New(),
		utmp.New(),
		// ESE by its signature, UAL among ESE databases by its .mdb name.
		ual.New(),
		prefetch.New(),
		lnk.New(),
		jumplist.NewAutomatic(),
		jumplist.NewCustom(),
		// Name plus structure: the change journal has no magic.
		usnjrnl.New(),
		// Structure (and the $I / INFO2 name as tie-breaker): no magic.
		recyclebin.New(),
		// XML whose root is the Task Scheduler's Task (UTF-16 mostly).
		schtask.New(),
	}
	ps = append(ps, text...)
	// Last the one matched only by file name (lastlog has no magic).
	ps = append(ps, utmp.NewLastlog())
	// PSReadLine's history has no structure either: known by its name.
	ps = append(ps, powershell.NewHistory())
	return parsers.NewRegistry(ps...).ScoreLines(text...)
}
