package hunt

import (
	"encoding/json"
	"flag"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/scanner"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/casework/casetest"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

// TestProjectionChangesNothing hunts the whole corpus, and the EVTX
// samples of SigmaHQ's regression data, with the built-in rules and
// SigmaHQ's Windows and Linux rules, twice: reading whole events and
// reading only the map entries the projection keeps. Every finding, with
// every field and event, must be the same.
func TestProjectionChangesNothing(t *testing.T) {
	root, err := parsertest.CorpusDir()
	if err != nil {
		t.Skipf("no corpus: %v", err)
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "regression"), 0o755); err != nil {
		t.Fatal(err)
	}
	for n, p := range evtxFiles(filepath.Join(sharedSigma, "regression_data")) {
		copyFile(t, p, filepath.Join(dir, "regression", filepath.Base(filepath.Dir(p))+"-"+filepath.Base(p)))
		if testing.Short() && n > 40 {
			break
		}
	}
	st, sum := casetest.Build(t, root, dir)
	if _, ok := any(st).(projectedSearcher); !ok {
		t.Fatal("the sqlite store no longer offers SearchProjected: the test would prove nothing")
	}

	builtin, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	sets := map[string][]*Rule{"built-in": builtin}
	if !testing.Short() {
		all := slices.Clone(builtin)
		for _, sub := range []string{"windows", "linux"} {
			rules, _, err := LoadSigma(filepath.Join(sharedSigma, "rules", sub))
			if err != nil {
				t.Skipf("SigmaHQ snapshot: %v", err)
			}
			all = append(all, rules...)
		}
		sets["built-in and SigmaHQ"] = all
	}
	for name, rules := range sets {
		t.Run(name, func(t *testing.T) {
			cfg := Config{Rules: rules, After: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}
			idx := newSigmaIndex(sigmasOf(rules))
			if projection(idx) == nil {
				t.Fatal("no projection for these rules: the test would prove nothing")
			}
			render := func() string {
				b, err := json.MarshalIndent(hunt(t, st, cfg), "", " ")
				if err != nil {
					t.Fatal(err)
				}
				return string(b)
			}
			useProjection = false
			whole := render()
			useProjection = true
			projected := render()
			if whole != projected {
				wl, pl := strings.Split(whole, "\n"), strings.Split(projected, "\n")
				for i := range min(len(wl), len(pl)) {
					if wl[i] != pl[i] {
						t.Fatalf("findings differ with the projection at line %d:\n whole     %s\n projected %s", i+1, wl[i], pl[i])
					}
				}
				t.Fatalf("findings differ with the projection: %d lines whole, %d projected", len(wl), len(pl))
			}
			var fs []Finding
			if err := json.Unmarshal([]byte(whole), &fs); err != nil || len(fs) == 0 {
				t.Fatalf("%d findings (%v): the comparison would prove nothing", len(fs), err)
			}
			t.Logf("%d rules, %d events: %d findings either way", len(rules), sum.Events, len(fs))
		})
	}
}

// sigmasOf wraps the Sigma rules of rules as Hunt does.
func sigmasOf(rules []*Rule) []*sigmaMatches {
	var out []*sigmaMatches
	for _, r := range rules {
		if r.sigma != nil {
			out = append(out, &sigmaMatches{rule: r})
		}
	}
	return out
}

// TestProjectionKeys checks the key set itself: the keys the analyzers
// read by name are in it (a sample from each file that reads the maps),
// the keys of Windows records no rule reads are not, and a Sigma field is
// in it with its sources exactly when a loaded rule reads it.
func TestProjectionKeys(t *testing.T) {
	p := projection(newSigmaIndex(nil))
	if p == nil {
		t.Fatal("no projection without Sigma rules")
	}
	logon := sqlite.WinlogHead{Channel: "Security", EventID: 4624, Provider: securityAuditing}
	ed, wd := p.EventData(logon), p.WinData(logon)
	for _, k := range []string{"TargetUserName", "IpAddress", "LogonType", "WorkstationName", "TargetSid", "Channel", "TaskName", "Data", "Data_2", "Data_3"} {
		if !ed.Has(k) {
			t.Errorf("event_data key %s, read by an analyzer, is left out", k)
		}
	}
	for _, k := range []string{"user_sid", "type", "usn", "attribute", "repeat_count"} {
		if !wd.Has(k) {
			t.Errorf("jejak.data key %s, read by an analyzer, is left out", k)
		}
	}
	for _, k := range []string{"OldSd", "NewSd", "PrivilegeList", "LogonGuid"} {
		if ed.Has(k) {
			t.Errorf("event_data key %s, which no rule reads, is kept", k)
		}
	}
	for _, k := range []string{"provider_guid", "thread_id", "written_time", "level", "keywords"} {
		if wd.Has(k) {
			t.Errorf("jejak.data key %s, which no rule reads, is kept", k)
		}
	}
	if p.EventData(sqlite.WinlogHead{Channel: "Application", EventID: 18456, Provider: "MSSQLSERVER"}) != nil {
		t.Error("an MSSQL login record's event_data must be whole: mssqlEvent reads every value")
	}

	// A Sigma rule reading Level and Image: jejak.data's level, and the
	// event_data aliases of Image, join the set.
	src := "title: t\nlogsource:\n  product: windows\n  service: security\ndetection:\n  sel:\n    Level: 4\n    Image|endswith: '\\x.exe'\n    OldSd|contains: 'D:'\n  condition: sel\n"
	r, err := parseSigmaRule(t, src)
	if err != nil {
		t.Fatal(err)
	}
	p = projection(newSigmaIndex([]*sigmaMatches{{rule: r}}))
	ed, wd = p.EventData(logon), p.WinData(logon)
	for _, k := range []string{"Image", "NewProcessName", "ProcessName", "OldSd"} {
		if !ed.Has(k) {
			t.Errorf("event_data key %s, read by the Sigma rule, is left out", k)
		}
	}
	if !wd.Has("level") {
		t.Error("jejak.data level, the Sigma rule's Level, is left out")
	}
}

// parseSigmaRule compiles one Sigma rule from its YAML.
func parseSigmaRule(t *testing.T, src string) (*Rule, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "r.yml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	rules, skipped, err := LoadSigma(dir)
	if err != nil || len(rules) != 1 {
		t.Fatalf("LoadSigma: %d rules, skipped %v, %v", len(rules), skipped, err)
	}
	return rules[0], nil
}

// dynamicReads are the functions that read a Windows record's map by a key
// made at run time (or every entry), and what covers them in projection.
var dynamicReads = map[string]string{
	"rdpField":         "Data_N: dynamicPrefixes",
	"mssqlEvent":       "every entry of 18453-18456: wholeEventData",
	"winData":          "its key argument: the callers' literals (checked below)",
	"winStatus":        "its key argument, passed on to winData",
	"sigmaEventInto":   "Sigma fields: sigmaMapKeys",
	"sigmaIndex.value": "Sigma fields: sigmaMapKeys",
	"winSystemValue":   "Sigma fields: sigmaMapKeys",
	"unnamedData":      "DataN: sigmaMapKeys when Data is wanted",
	"auditdRecords":    "jejak.data of auditd events: not Windows records, never projected",
	"auditdCreated":    "jejak.data of auditd events: not Windows records, never projected",
}

// TestProjectionDynamicReads reads the package's source: every read of a
// Windows record's event_data or jejak.data by a key that is not a string
// literal, every range over one, every call handing one on and every
// place one is kept (a field, a literal, a return value), must be in
// a function dynamicReads lists (whose reads projection covers), and every
// call of winData and winStatus must name its key as a literal or a
// variable ranging over literals. An analyzer reading a key made at run
// time would otherwise miss the entries the projection leaves out.
func TestProjectionDynamicReads(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range dynamicReadProblems(fset, f) {
			t.Error(p)
		}
	}
}

// TestDynamicReadProblems holds the source check to what it must find.
func TestDynamicReadProblems(t *testing.T) {
	for _, c := range []struct {
		name, src string
		want      int // problems found
	}{
		{"literal keys", `func a(ev *E) { d := ev.Winlog.EventData; _ = d["X"] + ev.Jejak.Data["y"] }`, 0},
		{"keys from a literal list", `func a(w *W) { for _, k := range []string{"A", "B"} { _ = w.EventData[k] } }`, 0},
		{"key made at run time", `func a(w *W, n int) { _ = w.EventData[fmt.Sprint("Data", n)] }`, 1},
		{"key from a variable", `func a(ev *E, k string) { d := ev.Jejak.Data; _ = d[k] }`, 1},
		{"range", `func a(w *W) { for k := range w.EventData { _ = k } }`, 1},
		{"parameter map", `func a(m map[string]string, k string) string { return m[k] }`, 1},
		{"handed on", `func a(w *W) { b(w.EventData) }`, 1},
		{"kept in a field", `func a(w *W, x *X) { x.m = w.EventData }`, 1},
		{"kept in a literal", `func a(w *W) *X { return &X{m: w.EventData} }`, 1},
		{"returned", `func a(w *W) map[string]string { return w.EventData }`, 1},
		{"winData with a variable", `func a(ev *E, k string) { _ = winData(ev, k) }`, 1},
		{"winData with a literal", `func a(ev *E) { _ = winData(ev, "IpAddress") }`, 0},
		{"listed function", `func rdpField(d map[string]string, name string, pos int) string { return d[name] }`, 0},
		{"other maps", `func a(m map[string]int, k string) int { return m[k] }`, 0},
		{"var declaration", `func a(w *W, k string) { var d = w.EventData; _ = d[k] }`, 1},
		{"package-level func literal", `var f = func(w *W, k string) string { return w.EventData[k] }`, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, "x.go", "package hunt\n"+c.src, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := dynamicReadProblems(fset, f); len(got) != c.want {
				t.Errorf("%d problems, want %d: %q", len(got), c.want, got)
			}
		})
	}
}

// dynamicReadProblems checks the functions of f (see
// TestProjectionDynamicReads).
func dynamicReadProblems(fset *token.FileSet, f *ast.File) []string {
	var problems []string
	for _, decl := range f.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok {
			// Function literals at package level: checked as functions
			// of their own, never listed.
			ast.Inspect(decl, func(n ast.Node) bool {
				if lit, ok := n.(*ast.FuncLit); ok {
					problems = append(problems, funcReadProblems(fset, "a package-level func literal", lit.Type, lit.Body)...)
					return false
				}
				return true
			})
			continue
		}
		if fn.Body != nil {
			problems = append(problems, funcReadProblems(fset, funcName(fn), fn.Type, fn.Body)...)
		}
	}
	return problems
}

// funcReadProblems checks one function, named name, of type typ.
func funcReadProblems(fset *token.FileSet, name string, typ *ast.FuncType, body *ast.BlockStmt) []string {
	var problems []string
	{
		mapVars := map[string]bool{}
		for _, p := range typ.Params.List {
			if isStrMap(p.Type) {
				for _, n := range p.Names {
					mapVars[n.Name] = true
				}
			}
		}
		isMap := func(e ast.Expr) bool {
			switch x := e.(type) {
			case *ast.SelectorExpr:
				return x.Sel.Name == "EventData" || x.Sel.Name == "Data" && isJejak(x.X)
			case *ast.Ident:
				return mapVars[x.Name]
			}
			return false
		}
		// Variables assigned from a map (d := w.EventData, var d = ...).
		ast.Inspect(body, func(n ast.Node) bool {
			switch a := n.(type) {
			case *ast.AssignStmt:
				if len(a.Lhs) == len(a.Rhs) {
					for i, r := range a.Rhs {
						if id, ok := a.Lhs[i].(*ast.Ident); ok && isMap(r) {
							mapVars[id.Name] = true
						}
					}
				}
			case *ast.ValueSpec:
				if len(a.Names) == len(a.Values) {
					for i, r := range a.Values {
						if isMap(r) {
							mapVars[a.Names[i].Name] = true
						}
					}
				}
			}
			return true
		})
		where := func(n ast.Node) string { return fset.Position(n.Pos()).String() + " in " + name }
		_, listed := dynamicReads[name]
		ast.Inspect(body, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.IndexExpr:
				if isMap(x.X) && !isStringLit(x.Index) && !rangesOverLiterals(body, x.Index) && !listed {
					problems = append(problems, fmt.Sprintf("%s: a Windows map read by a key made at run time; cover it in projection (proj.go) and list it in dynamicReads", where(x)))
				}
			case *ast.AssignStmt:
				// Kept beyond a local variable (a field, a slice), a
				// map could be read anywhere later.
				for i, r := range x.Rhs {
					if i < len(x.Lhs) && isMap(r) && !listed {
						if _, local := x.Lhs[i].(*ast.Ident); !local {
							problems = append(problems, fmt.Sprintf("%s: a Windows map stored away; list it in dynamicReads with what covers its later reads", where(x)))
						}
					}
				}
			case *ast.CompositeLit:
				for _, e := range x.Elts {
					if kv, ok := e.(*ast.KeyValueExpr); ok {
						e = kv.Value
					}
					if isMap(e) && !listed {
						problems = append(problems, fmt.Sprintf("%s: a Windows map stored in a composite literal; list it in dynamicReads with what covers its later reads", where(x)))
					}
				}
			case *ast.ReturnStmt:
				for _, r := range x.Results {
					if isMap(r) && !listed {
						problems = append(problems, fmt.Sprintf("%s: a Windows map returned; list it in dynamicReads with what covers its callers' reads", where(x)))
					}
				}
			case *ast.RangeStmt:
				if isMap(x.X) && !listed {
					problems = append(problems, fmt.Sprintf("%s: a range over a Windows map; cover it in projection (proj.go) and list it in dynamicReads", where(x)))
				}
			case *ast.CallExpr:
				callee := ""
				if id, ok := x.Fun.(*ast.Ident); ok {
					callee = id.Name
				}
				for _, a := range x.Args {
					if isMap(a) && !listed {
						if _, ok := dynamicReads[callee]; !ok {
							problems = append(problems, fmt.Sprintf("%s: a Windows map handed to %s; list it in dynamicReads with what covers its reads", where(x), callee))
						}
					}
				}
				if (callee == "winData" || callee == "winStatus") && len(x.Args) == 2 && !isStringLit(x.Args[1]) && !rangesOverLiterals(body, x.Args[1]) && !listed {
					problems = append(problems, fmt.Sprintf("%s: %s with a key that is neither a literal nor a range over literals", where(x), callee))
				}
			}
			return true
		})
	}
	return problems
}

// funcName is fn's name, a method's as Type.Method.
func funcName(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return fn.Name.Name
	}
	t := fn.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name + "." + fn.Name.Name
	}
	return fn.Name.Name
}

func isStrMap(e ast.Expr) bool {
	m, ok := e.(*ast.MapType)
	if !ok {
		return false
	}
	k, ok1 := m.Key.(*ast.Ident)
	v, ok2 := m.Value.(*ast.Ident)
	return ok1 && ok2 && k.Name == "string" && v.Name == "string"
}

// isJejak: x is ev.Jejak (or any .Jejak): jejak.data.
func isJejak(x ast.Expr) bool {
	s, ok := x.(*ast.SelectorExpr)
	return ok && s.Sel.Name == "Jejak"
}

func isStringLit(e ast.Expr) bool {
	b, ok := e.(*ast.BasicLit)
	return ok && b.Kind == token.STRING
}

// rangesOverLiterals: key is a variable of a range over a composite
// literal of string literals ("for _, k := range []string{"A", "B"}").
func rangesOverLiterals(body *ast.BlockStmt, key ast.Expr) bool {
	id, ok := key.(*ast.Ident)
	if !ok {
		return false
	}
	found := false
	ast.Inspect(body, func(n ast.Node) bool {
		r, ok := n.(*ast.RangeStmt)
		if !ok {
			return true
		}
		v, ok := r.Value.(*ast.Ident)
		if !ok || v.Name != id.Name {
			return true
		}
		c, ok := r.X.(*ast.CompositeLit)
		if !ok {
			return true
		}
		for _, e := range c.Elts {
			if !isStringLit(e) {
				return true
			}
		}
		found = true
		return false
	})
	return found
}

var update = flag.Bool("update", false, "rewrite proj_keys.go from the package's source")

// TestSourceKeys holds sourceKeys to every string literal of the
// package's own non-test, non-Sigma Go files: an analyzer that reads a
// map entry by a literal the list lacks would lose it to the projection.
// With -update it writes the list instead.
func TestSourceKeys(t *testing.T) {
	want, err := scanLiterals(".")
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		var b strings.Builder
		b.WriteString("// Code generated by TestSourceKeys -update; DO NOT EDIT.\n\npackage hunt\n\n")
		b.WriteString("// sourceKeys is every string literal of the package's non-test, non-Sigma\n// Go files: the map keys its analyzers can read (see proj.go).\nvar sourceKeys = []string{\n")
		for _, k := range want {
			fmt.Fprintf(&b, "\t%s,\n", strconv.Quote(k))
		}
		b.WriteString("}\n")
		src, err := format.Source([]byte(b.String()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("proj_keys.go", src, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	have := map[string]bool{}
	for _, k := range sourceKeys {
		have[k] = true
	}
	var missing []string
	for _, k := range want {
		if !have[k] {
			missing = append(missing, strconv.Quote(k))
		}
	}
	if len(missing) > 0 {
		t.Errorf("proj_keys.go lacks %d literals of the source (%s): run go test ./casework/hunt -run TestSourceKeys -update",
			len(missing), strings.Join(missing[:min(len(missing), 10)], ", "))
	}
	if len(sourceKeys) != len(want) {
		t.Errorf("proj_keys.go holds %d keys, the source %d: run go test ./casework/hunt -run TestSourceKeys -update", len(sourceKeys), len(want))
	}
}

// scanLiterals returns every string literal, unquoted and sorted, of the
// Go files of dir but tests, the Sigma files and proj_keys.go itself.
func scanLiterals(dir string) ([]string, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, name := range names {
		base := filepath.Base(name)
		if strings.HasSuffix(base, "_test.go") || strings.HasPrefix(base, "sigma") || base == "proj_keys.go" {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		fset := token.NewFileSet()
		var s scanner.Scanner
		s.Init(fset.AddFile(name, -1, len(src)), src, nil, 0)
		for {
			_, tok, lit := s.Scan()
			if tok == token.EOF {
				break
			}
			if tok == token.STRING {
				if v, err := strconv.Unquote(lit); err == nil {
					seen[v] = true
				}
			}
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	slices.Sort(out)
	return out, nil
}
