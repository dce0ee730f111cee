package dblog

import (
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		stmt  string
		verb  string
		write bool
	}{
		{"SELECT * FROM users", "SELECT", false},
		{"  update votes set n = n + 1 where id = 3", "UPDATE", true},
		{"/* app */ DELETE FROM tally", "DELETE", true},
		{"-- x\nINSERT INTO t VALUES (1)", "INSERT", true},
		{"(DROP TABLE x)", "DROP", true},
		{"GRANT ALL ON t TO bob", "GRANT", true},
		{"revoke select on t from bob", "REVOKE", true},
		{"TRUNCATE results", "TRUNCATE", true},
		{"CREATE INDEX i ON t(c)", "CREATE", true},
		{"REPLACE INTO t VALUES (1)", "REPLACE", true},
		{"ALTER USER x PASSWORD 'y'", "ALTER", true},
		{"WITH a AS (SELECT 1) UPDATE t SET c = 1", "WITH", true},
		{"WITH a AS (SELECT 1) SELECT * FROM a", "WITH", false},
		{"COPY t FROM '/tmp/x.csv'", "COPY", true},
		{"COPY t TO '/tmp/x.csv'", "COPY", false},
		{"SELECT a INTO newtab FROM t", "SELECT", true},
		{"SELECT a INTO @v FROM t", "SELECT", false},
		{"/*!40101 SET NAMES utf8 */", "SET", false},
		{"SHOW TABLES", "SHOW", false},
		{"", "", false},
	} {
		verb, write := Classify(tc.stmt)
		if verb != tc.verb || write != tc.write {
			t.Errorf("Classify(%q) = %q, %v; want %q, %v", tc.stmt, verb, write, tc.verb, tc.write)
		}
	}
}

func TestResolveZone(t *testing.T) {
	wall := time.Date(2022, 7, 15, 23, 4, 27, 0, time.UTC)
	for _, tc := range []struct {
		abbr   string
		offset int
		ok     bool
	}{
		{"UTC", 0, true}, {"AEST", 10 * 3600, true}, {"PDT", -7 * 3600, true},
		{"+02", 2 * 3600, true}, {"-0530", -(5*3600 + 30*60), true}, {"+05:45", 5*3600 + 45*60, true},
		{"IST", 0, false}, {"CST", 0, false}, {"", 0, false},
	} {
		loc, ok := ResolveZone(tc.abbr, wall, time.UTC)
		_, off := time.Date(2022, 7, 15, 23, 4, 27, 0, loc).Zone()
		if ok != tc.ok || off != tc.offset {
			t.Errorf("%q: offset %d ok %v; want %d %v", tc.abbr, off, ok, tc.offset, tc.ok)
		}
	}
	// The case zone wins when it is known by that abbreviation.
	if ist, err := time.LoadLocation("Asia/Kolkata"); err == nil {
		loc, ok := ResolveZone("IST", wall, ist)
		if !ok || loc != ist {
			t.Errorf("IST in Asia/Kolkata: %v %v", loc, ok)
		}
	}
}
