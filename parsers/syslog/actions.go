package syslog

// action is one kind of normalised audit event: its ECS event.action and
// the categorisation that goes with it. The outcome is set per line.
type action struct {
	name     string
	category []string
	typ      []string
}

// The actions the normalisers set, in one table so rules and reports can
// rely on the names. Written by:
//
//	ssh_login         sshd "Accepted <method> for U from IP port N"
//	ssh_failed_login  sshd "Failed <method> for [invalid user] U from IP port N",
//	                  "User U from IP not allowed because ..."
//	ssh_invalid_user  sshd "Invalid user U from IP [port N]"
//	ssh_disconnect    sshd "Disconnected from ...", "Received disconnect from ...",
//	                  "Connection closed by ...", "Connection reset by ..."
//	ssh_connection    sshd "Connection from IP port N"
//	auth_failure      PAM "authentication failure; ... rhost=H user=U" (any program)
//	sudo_command      sudo "U : TTY=.. ; PWD=.. ; USER=E ; COMMAND=C" (failure when a
//	                  reason such as "user NOT in sudoers" leads)
//	su                su "Successful su for E by U", "FAILED su ...", "+ tty U:E",
//	                  "(to E) U on tty", "FAILED SU (to E) U on tty"
//	user_created      useradd "new user: name=U, UID=N, ..." (failure: "failed adding user")
//	user_modified     usermod / useradd "add 'U' to group 'G'", usermod "change user 'U' ..."
//	user_deleted      userdel "delete user 'U'"
//	group_created     groupadd/useradd "new group: name=G, GID=N", "group added to ..."
//	group_modified    gpasswd "user U added by A to group G", groupmod "group changed ..."
//	group_deleted     groupdel "group 'G' removed", userdel "removed group 'G' ..."
//	password_changed  PAM "password changed for U", passwd "password for 'U' changed by 'A'",
//	                  usermod "change user 'U' password", chpasswd unknown user (failure)
//	session_opened    PAM "session opened for user U", logind "New session N of user U."
//	session_closed    PAM "session closed for user U", logind "Removed session N."
//	cron_command      CRON/crond "(U) CMD (C)"
//	db_auth_failed    mysqld/mariadbd "Access denied for user 'U'@'H'", postgres
//	                  "password authentication failed for user "U"", "no pg_hba.conf
//	                  entry for host "H", user "U", ..." (names as in parsers/dblog)
//	db_aborted_connection  mysqld/mariadbd "Aborted connection N to db: 'D' user: 'U' host: 'H'"
//	db_connection_received postgres "connection received: host=H port=P"
//	db_connect        postgres "connection authorized: user=U database=D"
//	db_disconnect     postgres "disconnection: session time: T user=U database=D host=H port=P"
//
// A line of a "message repeated N times: [ ... ]" wrapper is normalised as
// its inner line, with jejak.data.repeat_count = N.
var (
	actSSHLogin       = action{"ssh_login", fix("authentication", "session"), fix("start")}
	actSSHFailedLogin = action{"ssh_failed_login", fix("authentication"), fix("start")}
	actSSHInvalidUser = action{"ssh_invalid_user", fix("authentication"), fix("info")}
	actSSHDisconnect  = action{"ssh_disconnect", fix("session", "network"), fix("end")}
	actSSHConnection  = action{"ssh_connection", fix("network"), fix("connection", "start")}
	actAuthFailure    = action{"auth_failure", fix("authentication"), fix("info")}
	actSudo           = action{"sudo_command", fix("process"), fix("start")}
	actSu             = action{"su", fix("authentication", "session"), fix("start")}
	actUserCreated    = action{"user_created", fix("iam"), fix("user", "creation")}
	actUserModified   = action{"user_modified", fix("iam"), fix("user", "change")}
	actUserDeleted    = action{"user_deleted", fix("iam"), fix("user", "deletion")}
	actGroupCreated   = action{"group_created", fix("iam"), fix("group", "creation")}
	actGroupModified  = action{"group_modified", fix("iam"), fix("group", "change")}
	actGroupDeleted   = action{"group_deleted", fix("iam"), fix("group", "deletion")}
	actPasswdChanged  = action{"password_changed", fix("iam"), fix("user", "change")}
	actSessionOpened  = action{"session_opened", fix("session"), fix("start")}
	actSessionClosed  = action{"session_closed", fix("session"), fix("end")}
	actCron           = action{"cron_command", fix("process"), fix("start")}
	actDBAuthFailed   = action{"db_auth_failed", fix("authentication", "database"), fix("start")}
	actDBAborted      = action{"db_aborted_connection", fix("network", "database"), fix("connection", "end")}
	actDBConnReceived = action{"db_connection_received", fix("network", "database"), fix("connection", "start")}
	actDBConnect      = action{"db_connect", fix("authentication", "database"), fix("start")}
	actDBDisconnect   = action{"db_disconnect", fix("session", "database"), fix("end")}
)

// Actions lists every event.action this package writes, for documentation
// and for tests that hold the table and the code together.
func Actions() []string {
	all := []action{actSSHLogin, actSSHFailedLogin, actSSHInvalidUser, actSSHDisconnect, actSSHConnection,
		actAuthFailure, actSudo, actSu, actUserCreated, actUserModified, actUserDeleted, actGroupCreated,
		actGroupModified, actGroupDeleted, actPasswdChanged, actSessionOpened, actSessionClosed, actCron,
		actDBAuthFailed, actDBAborted, actDBConnReceived, actDBConnect, actDBDisconnect}
	out := make([]string, len(all))
	for i, a := range all {
		out[i] = a.name
	}
	return out
}

// fix returns a slice whose capacity equals its length: events share these
// read-only slices, and an append by a consumer then copies instead of
// writing into the shared array.
func fix(s ...string) []string { return s[:len(s):len(s)] }
