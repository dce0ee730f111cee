//go:build unix

package weblog

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/cputime"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// synthAccessLog writes about size bytes of an Apache/nginx combined log
// as an internet-facing server keeps it: many client addresses, logins
// and scans among ordinary page loads, a referrer and a user agent on most
// lines, times one second apart in one zone (+0700), an authenticated
// user now and then.
func synthAccessLog(size int) []byte {
	paths := []string{"/", "/index.php", "/login", "/wp-login.php", "/static/app.js", "/api/v1/results?tps=12&kec=3",
		"/admin/", "/.env", "/cgi-bin/luci/;stok=/locale", "/images/logo.png"}
	methods := []string{"GET", "GET", "GET", "POST", "GET", "HEAD"}
	agents := []string{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
		"curl/8.4.0", "-", "python-requests/2.31.0", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"}
	statuses := []int{200, 200, 200, 304, 404, 401, 302, 500}
	t0 := time.Date(2024, 2, 14, 0, 0, 0, 0, time.FixedZone("", 7*3600))
	var b bytes.Buffer
	b.Grow(size + 512)
	for i := 1; b.Len() < size; i++ {
		ts := t0.Add(time.Duration(i) * time.Second).Format("02/Jan/2006:15:04:05 -0700")
		ip := fmt.Sprintf("%d.%d.%d.%d", 1+i%223, (i>>8)%256, (i>>4)%256, 1+i%254)
		user := "-"
		if i%17 == 0 {
			user = "operator"
		}
		size := fmt.Sprint(200 + i%40000)
		if i%11 == 0 {
			size = "-"
		}
		ref := "-"
		if i%3 == 0 {
			ref = "https://pemilu.example.id" + paths[i%len(paths)]
		}
		fmt.Fprintf(&b, "%s - %s [%s] \"%s %s HTTP/1.1\" %d %s \"%s\" \"%s\"\n", ip, user, ts,
			methods[i%len(methods)], paths[(i/7)%len(paths)], statuses[i%len(statuses)], size, ref, agents[i%len(agents)])
	}
	return b.Bytes()
}

// synthIISLog writes about size bytes of an IIS W3C extended log with the
// default IIS 10 columns, a #Fields: directive every 10,000 lines as after
// a restart, and times one second apart (W3C times are UTC).
func synthIISLog(size int) []byte {
	const header = "#Software: Microsoft Internet Information Services 10.0\n#Version: 1.0\n#Date: 2024-02-14 00:00:00\n" +
		"#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\n"
	paths := []string{"/", "/sirekap/api/upload", "/owa/auth/logon.aspx", "/aspnet_client/x.aspx", "/ecp/default.flt", "/images/logo.png"}
	agents := []string{"Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64)+AppleWebKit/537.36", "curl/8.4.0", "-", "python-requests/2.31.0"}
	t0 := time.Date(2024, 2, 14, 0, 0, 0, 0, time.UTC)
	var b bytes.Buffer
	b.Grow(size + 512)
	for i := 0; b.Len() < size; i++ {
		if i%10000 == 0 {
			b.WriteString(header)
		}
		ts := t0.Add(time.Duration(i) * time.Second).Format("2006-01-02 15:04:05")
		query, user := "-", "-"
		if i%4 == 0 {
			query = fmt.Sprintf("id=%d&tps=%d", i, i%977)
		}
		if i%13 == 0 {
			user = `KPU\\operator`
		}
		fmt.Fprintf(&b, "%s 10.0.0.5 %s %s %s 443 %s %d.%d.%d.%d %s - %d 0 0 %d\n", ts, []string{"GET", "POST"}[i%2],
			paths[i%len(paths)], query, user, 1+i%223, (i>>8)%256, (i>>4)%256, 1+i%254, agents[i%len(agents)],
			[]int{200, 302, 401, 404, 500}[i%5], i%900)
	}
	return b.Bytes()
}

// BenchmarkParseIISLog: 16 MB of synthIISLog, as BenchmarkParseAccessLog.
func BenchmarkParseIISLog(b *testing.B) {
	benchParse(b, synthIISLog(16<<20))
}

// BenchmarkParseAccessLog: 16 MB of synthAccessLog, events dropped; MB/cpu-s
// is the figure to compare on a shared machine.
func BenchmarkParseAccessLog(b *testing.B) {
	benchParse(b, synthAccessLog(16<<20))
}

func benchParse(b *testing.B, input []byte) {
	entry := parsertest.BytesEntry("access.log", input, time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC))
	p := New()
	b.SetBytes(int64(len(input)))
	b.ReportAllocs()
	cpu0 := cputime.Process()
	b.ResetTimer()
	for b.Loop() {
		n, warns := 0, 0
		src := &parsers.Source{Entry: entry, R: bytes.NewReader(input), Size: int64(len(input)), Zone: time.UTC,
			Warn: func(*parsers.RecordError) { warns++ }}
		if err := p.Parse(context.Background(), src, func(*timeline.Event) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		if n == 0 || warns != 0 {
			b.Fatalf("%d events, %d warnings", n, warns)
		}
	}
	if d := cputime.Process() - cpu0; d > 0 {
		b.ReportMetric(float64(len(input))*float64(b.N)/d.Seconds()/1e6, "MB/cpu-s")
	}
}
