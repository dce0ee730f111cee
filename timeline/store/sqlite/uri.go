package sqlite

import "strings"

// URI is the SQLite URI filename for the file at path with the given query
// (without its '?'). SQLite reads a "file:" name as a URI: a '?' in the path
// would start the query and a '#' would end the name, so a case folder
// named "a#b" or "a?b" would open another, shorter file name — possibly a
// file another case uses. Percent-encoding those (and '%' itself) keeps
// the name whole; SQLite decodes it before opening (https://sqlite.org/uri.html).
func URI(path, query string) string {
	var b strings.Builder
	b.Grow(len("file:") + len(path) + 1 + len(query))
	b.WriteString("file:")
	for i := 0; i < len(path); i++ {
		switch c := path[i]; c {
		case '%':
			b.WriteString("%25")
		case '?':
			b.WriteString("%3f")
		case '#':
			b.WriteString("%23")
		default:
			b.WriteByte(c)
		}
	}
	if query != "" {
		b.WriteByte('?')
		b.WriteString(query)
	}
	return b.String()
}
