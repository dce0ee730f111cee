package query

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", "*"},
		{"   ", "*"},
		{"user.name:root", "user.name:root"},
		{"user.name : root", "user.name:root"},
		{`user.name:"root user"`, `user.name:"root user"`},
		{"user.name:adm*", "user.name:adm*"},
		{"user.name:*", "user.name:*"},
		{`user.name:adm\*`, `user.name:adm\*`},
		{"user.name:(root or admin)", "(user.name:root or user.name:admin)"},
		{"user.name:(root OR admin and not guest)", "(user.name:root or (user.name:admin and not user.name:guest))"},
		{"a:1 or b:2 and c:3", "(a:1 or (b:2 and c:3))"},
		{"(a:1 or b:2) and c:3", "((a:1 or b:2) and c:3)"},
		{"NOT a:1", "not a:1"},
		{"not (not a:1)", "not (not a:1)"},
		{"a:1 AND NOT (b:2 Or c:3)", "(a:1 and not (b:2 or c:3))"},
		{"http.response.status_code >= 500", "http.response.status_code >= 500"},
		{"http.response.status_code>=500", "http.response.status_code >= 500"},
		{"x < 5 and x > 1 and x <= 4 and x >= 2", "(x < 5 and x > 1 and x <= 4 and x >= 2)"},
		{`@timestamp < "2024-02-14T12:00:00Z"`, `@timestamp < "2024-02-14T12:00:00Z"`},
		{"Failed password", `Failed\u0020password`},
		{`"Failed password"`, `"Failed password"`},
		{"fail*", "fail*"},
		{"*", "*"},
		// The unquoted value runs up to a keyword and is trimmed.
		{"message:Failed password for root  and user.name:x", `(message:Failed\u0020password\u0020for\u0020root and user.name:x)`},
		// Escapes as KQL defines them.
		{`a:\(x\)\:\<\>\"\\\{\}`, `a:\(x\)\:\<\>\"\\\{\}`},
		{`a:x\ty`, `a:x\ty`},
		{`a:\u0041B`, `a:AB`},
		{`a:\uD83D\uDE00`, "a:\U0001F600"},
		{`a:x \or y`, `a:x\u0020or\u0020y`},
		{`a:x \AND y`, `a:x\u0020AND\u0020y`},
		// \n comes before \not in KQL's grammar: a newline, then trimmed.
		{`a:\not`, `a:ot`},
		{`a:\NOT`, `a:NOT`},
		{`a:"say \"hi\" \\ \t"`, `a:"say \"hi\" \\ \t"`},
		{`a:"\x"`, `a:"\\x"`},
		{`a:"x*y"`, `a:"x*y"`},
		{`"user.name":root`, "user.name:root"},
		{"a:b\u00a0or\u00a0c:d", "(a:b or c:d)"},
		{"a:true", "a:true"},
		{"a:1 OR b:2 or c:3", "(a:1 or b:2 or c:3)"},
		{"orange:1", "orange:1"},
		{"notes:x", "notes:x"},
		{"android", "android"},
	}
	for _, tt := range tests {
		e, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if got := e.String(); got != tt.want {
			t.Errorf("Parse(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestParseValue(t *testing.T) {
	e, err := Parse(`winlog.event_data.TargetUserName : adm*n\*  `)
	if err != nil {
		t.Fatal(err)
	}
	m := e.(*Match)
	if m.Field != "winlog.event_data.TargetUserName" || m.Value.Text != "adm*n*" || m.Value.Quoted {
		t.Fatalf("got %+v", m)
	}
	if got := m.Value.Segments(); strings.Join(got, "|") != "adm|n*" {
		t.Errorf("segments %q", got)
	}
	if m.Col != 1 || m.FieldCol != 1 || m.Value.Col != 36 {
		t.Errorf("columns: match %d field %d value %d", m.Col, m.FieldCol, m.Value.Col)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in   string
		col  int
		want string
	}{
		{"user.name:", 10, "expected a value after ':'"},
		{"user.name:root)", 15, "no '(' open"},
		{"(user.name:root", 1, "never closed"},
		{"user.name:(root or", 11, "never closed"},
		{`user.name:"root`, 11, "never closed"},
		{"a:b c:d", 6, "unexpected ':'"},
		{"a:b (c:d)", 5, "unexpected '('"},
		{"message:cannot login", 12, "'not'"},
		{"not", 0, ""}, // free text "not": valid
		{"not not a:1", 5, "'not'"},
		{"a:1 and ", 9, "expected a condition after 'and'"},
		{"a:1 or ", 8, "expected a condition after 'or'"},
		{"not ", 5, "expected a condition after 'not'"},
		{"x >= ", 3, "expected a value after \">=\""},
		{"x >= 5*", 6, "wildcard"},
		{"user.*:root", 1, "wildcards in field names"},
		{`a:x\qy`, 4, `invalid escape \q`},
		{`a:x\`, 4, "lone backslash"},
		{"a:{b:c}", 3, "nested queries"},
		{">= 5", 1, "field name on its left"},
		{`"":x`, 1, "empty field name"},
		{"a:b)", 4, "no '(' open"},
		{"()", 2, "unexpected ')'"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		if tt.want == "" {
			if err != nil {
				t.Errorf("Parse(%q): %v", tt.in, err)
			}
			continue
		}
		qe, ok := err.(*Error)
		if !ok {
			t.Errorf("Parse(%q) = %v, want an *Error", tt.in, err)
			continue
		}
		if qe.Col != tt.col || !strings.Contains(qe.Msg, tt.want) {
			t.Errorf("Parse(%q): column %d %q, want column %d containing %q", tt.in, qe.Col, qe.Msg, tt.col, tt.want)
		}
		if !strings.HasPrefix(qe.Error(), "kql: column ") {
			t.Errorf("Error() = %q", qe.Error())
		}
	}
}

func TestCaret(t *testing.T) {
	_, err := Parse("a:b c:d")
	got := err.(*Error).Caret()
	if got != "a:b c:d\n     ^" {
		t.Errorf("Caret:\n%s", got)
	}
}

// FuzzParse checks that Parse never panics, that every error carries a
// column inside the query, and that what it parses renders to KQL that
// parses back to the same tree.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "a:b", `a:"b c"`, "a:(b or c)", "not a:b and (c:d or e >= 5)",
		`x:\(\)\:\u0041`, "fail* pass", `@timestamp < "2024-02-14T12:00:00Z"`, "a:b\u00a0or c", `\not`, `a:\uD83D`,
		"user.name:(a and not (b or c))", "a <= 4", "é:ü*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			qe, ok := err.(*Error)
			if !ok {
				t.Fatalf("Parse(%q): %T %v", s, err, err)
			}
			if qe.Col < 1 || qe.Col > len([]rune(s))+1 {
				t.Fatalf("Parse(%q): column %d outside the query", s, qe.Col)
			}
			return
		}
		out := e.String()
		e2, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(%q) rendered %q, which does not parse: %v", s, out, err)
		}
		if out2 := e2.String(); out2 != out {
			t.Fatalf("Parse(%q) rendered %q, which renders as %q", s, out, out2)
		}
		// Compiling and rendering must not panic either; errors are fine.
		f, err := Compile(s, e, Options{})
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("Compile(%q): %T %v", s, err, err)
			}
			return
		}
		sql, args := f.SQL()
		if n := strings.Count(sql, "?"); n != len(args) {
			t.Fatalf("SQL of %q has %d placeholders and %d arguments: %s", s, n, len(args), sql)
		}
		f.DSL()
	})
}
