package fs

import "strings"

// safePath turns a member name from an archive into a relative, slash
// separated path without "." or ".." parts. unsafe is true when the name
// tried to leave its container (absolute, drive letter, UNC, "..") — the
// member is still walked under the clean name, since its content is
// evidence, and nothing is ever written to disk under either name.
func safePath(name string) (clean string, unsafe bool) {
	n := strings.ReplaceAll(name, `\`, "/")
	if len(n) >= 2 && n[1] == ':' && (n[0]|0x20 >= 'a' && n[0]|0x20 <= 'z') {
		n, unsafe = n[2:], true
	}
	if strings.HasPrefix(n, "/") {
		unsafe = true
	}
	parts := strings.Split(n, "/")
	kept := parts[:0]
	for _, p := range parts {
		switch p {
		case "", ".":
		case "..":
			unsafe = true
		default:
			kept = append(kept, p)
		}
	}
	clean = strings.Join(kept, "/")
	if clean == "" {
		clean = "_"
	}
	return clean, unsafe
}

// IsSafePath reports whether p is what Entry.Path promises: relative,
// slash separated, without empty, "." or ".." parts.
func IsSafePath(p string) bool {
	if p == "" || strings.HasPrefix(p, "/") {
		return false
	}
	for _, part := range strings.Split(p, "/") {
		if part == "" || part == "." || part == ".." {
			return false
		}
	}
	return true
}
