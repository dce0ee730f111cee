// Package timeline holds the unified event model every parser emits and every
// store and export consumes.
package timeline

import (
	"crypto/sha256"
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/jejak-forensics/jejak/internal/digits"
)

// Event is one row of the super-timeline. Field names follow the Elastic
// Common Schema so that Kibana and Timesketch users find what they expect;
// everything jejak adds lives under "jejak".
type Event struct {
	Timestamp     time.Time `json:"@timestamp"`
	TimestampDesc string    `json:"timestamp_desc"`
	Message       string    `json:"message"`

	Event       EventMeta  `json:"event"`
	Log         *Log       `json:"log,omitempty"`
	Host        *Host      `json:"host,omitempty"`
	User        *User      `json:"user,omitempty"`
	Source      *Endpoint  `json:"source,omitempty"`
	Destination *Endpoint  `json:"destination,omitempty"`
	Process     *Process   `json:"process,omitempty"`
	File        *File      `json:"file,omitempty"`
	URL         *URL       `json:"url,omitempty"`
	HTTP        *HTTP      `json:"http,omitempty"`
	UserAgent   *UserAgent `json:"user_agent,omitempty"`
	Winlog      *Winlog    `json:"winlog,omitempty"`
	Group       *Group     `json:"group,omitempty"`
	Related     *Related   `json:"related,omitempty"`

	Jejak Jejak `json:"jejak"`
}

// EventMeta is ECS "event.*".
type EventMeta struct {
	Kind     string   `json:"kind,omitempty"`
	Category []string `json:"category,omitempty"`
	Type     []string `json:"type,omitempty"`
	Action   string   `json:"action,omitempty"`
	Outcome  string   `json:"outcome,omitempty"`
	Code     string   `json:"code,omitempty"`
	Dataset  string   `json:"dataset,omitempty"`
	Provider string   `json:"provider,omitempty"`
	Severity int      `json:"severity,omitempty"`
	// Timezone is set when the source had no zone and jejak read it in the
	// case zone: ECS says to record the assumption here.
	Timezone string `json:"timezone,omitempty"`
	Original string `json:"original,omitempty"`
}

// Log is ECS "log.*".
type Log struct {
	Level  string  `json:"level,omitempty"`
	Logger string  `json:"logger,omitempty"`
	Syslog *Syslog `json:"syslog,omitempty"`
}

// Syslog is ECS "log.syslog.*".
type Syslog struct {
	Priority int    `json:"priority,omitempty"`
	Facility *Code  `json:"facility,omitempty"`
	Severity *Code  `json:"severity,omitempty"`
	Appname  string `json:"appname,omitempty"`
	Hostname string `json:"hostname,omitempty"`
	MsgID    string `json:"msgid,omitempty"`
	ProcID   string `json:"procid,omitempty"`
	Version  string `json:"version,omitempty"`
	// StructuredData is RFC 5424 SD: element ID → param → value.
	StructuredData map[string]map[string]string `json:"structured_data,omitempty"`
}

// Code is a numeric code with its name (syslog facility and severity).
type Code struct {
	Code int    `json:"code"`
	Name string `json:"name,omitempty"`
}

// Host is ECS "host.*".
type Host struct {
	Name     string `json:"name,omitempty"`
	Hostname string `json:"hostname,omitempty"`
}

// User is ECS "user.*".
type User struct {
	Name      string `json:"name,omitempty"`
	Domain    string `json:"domain,omitempty"`
	ID        string `json:"id,omitempty"`
	Effective *User  `json:"effective,omitempty"`
	Target    *User  `json:"target,omitempty"`
}

// Group is ECS "group.*".
type Group struct {
	Name string `json:"name,omitempty"`
	ID   string `json:"id,omitempty"`
}

// Endpoint is ECS "source.*" / "destination.*".
type Endpoint struct {
	IP      string `json:"ip,omitempty"`
	Port    int    `json:"port,omitempty"`
	Domain  string `json:"domain,omitempty"`
	Address string `json:"address,omitempty"`
}

// Process is ECS "process.*".
type Process struct {
	Name        string `json:"name,omitempty"`
	PID         int64  `json:"pid,omitempty"`
	Executable  string `json:"executable,omitempty"`
	CommandLine string `json:"command_line,omitempty"`
	WorkingDir  string `json:"working_directory,omitempty"`
	TTY         string `json:"tty,omitempty"`
}

// File is ECS "file.*".
type File struct {
	Path  string `json:"path,omitempty"`
	Name  string `json:"name,omitempty"`
	Inode string `json:"inode,omitempty"`
	Size  *int64 `json:"size,omitempty"`
	// Type is set for what is not a regular file: "dir", "symlink",
	// "device", "fifo" or "socket".
	Type       string `json:"type,omitempty"`
	TargetPath string `json:"target_path,omitempty"` // a symbolic link's target
}

// URL is ECS "url.*".
type URL struct {
	Original string `json:"original,omitempty"`
	Path     string `json:"path,omitempty"`
	Query    string `json:"query,omitempty"`
	Domain   string `json:"domain,omitempty"`
}

// HTTP is ECS "http.*".
type HTTP struct {
	Version  string        `json:"version,omitempty"`
	Request  *HTTPRequest  `json:"request,omitempty"`
	Response *HTTPResponse `json:"response,omitempty"`
}

// HTTPRequest is ECS "http.request.*".
type HTTPRequest struct {
	Method   string `json:"method,omitempty"`
	Referrer string `json:"referrer,omitempty"`
}

// HTTPResponse is ECS "http.response.*".
type HTTPResponse struct {
	StatusCode int       `json:"status_code,omitempty"`
	Body       *HTTPBody `json:"body,omitempty"`
}

// HTTPBody is ECS "http.*.body".
type HTTPBody struct {
	Bytes *int64 `json:"bytes,omitempty"`
}

// UserAgent is ECS "user_agent.*".
type UserAgent struct {
	Original string `json:"original,omitempty"`
}

// Winlog is the Winlogbeat "winlog.*" namespace that ECS users know.
type Winlog struct {
	Channel      string            `json:"channel,omitempty"`
	EventID      int               `json:"event_id,omitempty"`
	RecordID     uint64            `json:"record_id,omitempty"`
	ComputerName string            `json:"computer_name,omitempty"`
	ProviderName string            `json:"provider_name,omitempty"`
	EventData    map[string]string `json:"event_data,omitempty"`
	Logon        *WinlogLogon      `json:"logon,omitempty"`
}

// WinlogLogon is "winlog.logon.*".
type WinlogLogon struct {
	Type string `json:"type,omitempty"`
	ID   string `json:"id,omitempty"`
}

// Related is ECS "related.*": every user and IP an event mentions, so a pivot
// on one value finds it whatever role it played.
type Related struct {
	User []string `json:"user,omitempty"`
	IP   []string `json:"ip,omitempty"`
}

// Jejak holds what ECS has no place for: the identity of the row, where it
// came from, and how its time was read.
type Jejak struct {
	ID         string     `json:"id"`
	Provenance Provenance `json:"provenance"`
	Time       *TimeNote  `json:"time,omitempty"`
	// Data is parser-specific detail kept verbatim (plaso's "event data").
	Data map[string]string `json:"data,omitempty"`
	Tags []string          `json:"tags,omitempty"`
}

// TimeNote records the assumptions made to place a timestamp on the UTC
// line, so a reader of any single row can see them.
type TimeNote struct {
	// ZoneAssumed is the zone the source time was read in because the
	// source carried none.
	ZoneAssumed string `json:"zone_assumed,omitempty"`
	// YearInferred says the source time had no year; YearBasis says from what
	// the year was inferred.
	YearInferred bool   `json:"year_inferred,omitempty"`
	YearBasis    string `json:"year_basis,omitempty"`
	// OutOfRange flags a time the source holds but no sane clock would
	// write; it is kept as found, never clamped.
	OutOfRange bool `json:"out_of_range,omitempty"`
}

// Provenance walks a row back to the bytes: which evidence item, through
// which containers, which file, which record.
type Provenance struct {
	EvidenceSHA256 string `json:"evidence_sha256"`
	EvidenceName   string `json:"evidence_name"`
	// Chain lists the layers from the evidence item down to the file, each
	// "kind:member" (e.g. "gzip:", "tar:var/log/syslog", "dir:auth.log").
	Chain []string `json:"chain"`
	Path  string   `json:"path"`
	// Identity tells this file from another with the same chain and path
	// (two tar members of one name, a deleted and a live file at one
	// path): the tar or zip member's place and offset, the MFT entry and
	// sequence, the inode. Empty for files unique by path (a folder's).
	Identity string `json:"identity,omitempty"`
	Offset   int64  `json:"offset"`
	// Record is the 1-based record number in the file (line number for
	// text logs); 0 when the format has none.
	Record int64  `json:"record,omitempty"`
	Parser string `json:"parser"`
}

// Display renders the chain as one readable path, e.g.
// "logs.tgz » gzip » tar:var/log/syslog", followed by the identity in
// brackets when there is one ("… » tar:var/log/auth.log [tar#3@1536]"):
// a reader must see which of two copies at one path a row comes from.
func (p Provenance) Display() string {
	parts := make([]string, 0, len(p.Chain)+1)
	parts = append(parts, p.EvidenceName)
	for _, c := range p.Chain {
		parts = append(parts, strings.TrimSuffix(c, ":"))
	}
	s := strings.Join(parts, " » ")
	if p.Identity != "" {
		s += " [" + p.Identity + "]"
	}
	return s
}

// ComputeID returns the deterministic identity of an event: a hash of its
// provenance and timestamp_desc, so the same record parsed again by the same
// parser always maps to the same row in every store.
//
// The 128-bit ID is two halves: the first 64 bits hash the file (evidence,
// chain, path, identity, parser), the second the record inside it (offset, record,
// timestamp_desc). Events of one file therefore share a key prefix, which
// keeps the stores' unique-ID indexes local while a file is ingested (a
// fully random key touches every index page on every batch).
//
// Every field is hashed as its length (8 bytes, big-endian) then its bytes;
// numbers as their decimal text. The encoding is written out by hand into
// a stack buffer and hashed with one sha256.Sum256 call rather than through
// a hash.Hash (issue 15: the generic writer, its allocations and a second
// SHA-256 of the same file header for every event were a sixth of the MFT
// timeline's CPU). The file half is the same for every event of a file, so
// its digest is kept in a small cache (fileDigest). The bytes hashed, and so
// every ID, are those of the original field-by-field version, which
// TestComputeIDUnchanged keeps as the reference.
func ComputeID(p Provenance, desc string) string {
	fileSum, slot := fileDigest(&p)
	var stack [160]byte
	b := append(stack[:0], fileSum[:]...)
	b = appendNumField(b, p.Offset)
	b = appendNumField(b, p.Record)
	b = appendField(b, desc)
	rec := sha256.Sum256(b)
	// Each half written in place, into the ID's own bytes of a block
	// shared with the IDs before and after it (idText).
	text := idText(slot)
	hexHalf((*[16]byte)(text[:16]), (*[8]byte)(fileSum[:8]))
	hexHalf((*[16]byte)(text[16:]), (*[8]byte)(rec[:8]))
	return unsafe.String(&text[0], idLen)
}

// hexPairs holds each byte's two lower-case hex digits, as hex.Encode
// writes them, the first in the low byte.
var hexPairs = func() (t [256]uint16) {
	const digits = "0123456789abcdef"
	for i := range t {
		t[i] = uint16(digits[i>>4]) | uint16(digits[i&15])<<8
	}
	return t
}()

// hexHalf is hex.Encode of 8 bytes, a table look-up a byte.
func hexHalf(dst *[16]byte, src *[8]byte) {
	for i, c := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], hexPairs[c])
	}
}

// idLen is the length of an ID's text: 128 bits in hex.
const idLen = 32

// idBlock is the storage of the texts of 31 IDs, a 1 KiB allocation in
// all: an ID's text is carved from the block of its file's slot rather
// than allocated on its own (with newRelated, the EVTX parser's
// evtxbench went from 3.5 to 1.9 allocations a record).
// The bytes of an ID are written once, before its string exists, by the
// goroutine that reserved them with next, and never again.
//
// A string kept from a block keeps the whole block alive. That is
// bounded: an ID kept costs at most 1 KiB instead of 32 bytes, and what
// keeps IDs past the write of their batch (watch alerts, hunt findings,
// the stores' own decoded IDs are not from here) keeps few of them, or
// keeps them all, consecutive, filling their blocks.
type idBlock struct {
	next atomic.Uint32 // bytes of buf handed out
	buf  [31 * idLen]byte
}

// idBlocks are the blocks IDs are carved from, one a fileDigests slot:
// the goroutine ingesting a file has its block to itself unless another
// file's path falls in the same slot, when the two share it (next is
// atomic for that).
var idBlocks [len(fileDigests)]atomic.Pointer[idBlock]

// idText returns idLen bytes of slot's block that no one else is handed,
// taking a new block when the slot's is used up.
func idText(slot uint64) []byte {
	bp := &idBlocks[slot]
	if blk := bp.Load(); blk != nil {
		if end := blk.next.Add(idLen); end <= uint32(len(blk.buf)) {
			return blk.buf[end-idLen : end : end]
		}
	}
	blk := new(idBlock)
	blk.next.Store(idLen)
	// A block another goroutine stored meanwhile is dropped from the slot:
	// its IDs already handed out stay valid, it only hands out no more.
	bp.Store(blk)
	return blk.buf[:idLen:idLen]
}

// appendField appends s as ComputeID hashes a field: its length as 8
// big-endian bytes, then its bytes.
func appendField(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
	return append(b, s...)
}

// appendNumField is appendField of strconv.FormatInt(n, 10), without the
// string.
func appendNumField(b []byte, n int64) []byte {
	if n < 0 {
		var num [20]byte
		d := strconv.AppendInt(num[:0], n, 10)
		b = binary.BigEndian.AppendUint64(b, uint64(len(d)))
		return append(b, d...)
	}
	// The digits counted first, then written from the right straight
	// into b, two at a time (as strconv does, without its call and the
	// copy of its result): offsets and record numbers.
	u := uint64(n)
	// u|1 has the digits of u (a power of ten is even), 0 included.
	t := bits.Len64(u|1) * 1233 >> 12 // the digits less one, or the digits
	nd := t
	if u|1 >= pow10[t] {
		nd++
	}
	b = binary.BigEndian.AppendUint64(b, uint64(nd))
	b = slices.Grow(b, nd)
	b = b[:len(b)+nd]
	d := b[len(b)-nd:]
	i := len(d)
	for u >= 100 {
		q := u / 100
		r := u - q*100
		i -= 2
		d[i], d[i+1] = digits.Pairs[2*r], digits.Pairs[2*r+1]
		u = q
	}
	if u >= 10 {
		d[i-2], d[i-1] = digits.Pairs[2*u], digits.Pairs[2*u+1]
	} else {
		d[i-1] = byte('0' + u)
	}
	return b
}

// pow10[i] is 10 to the i: a number of at least pow10[t] has more than
// t digits (appendNumField).
var pow10 = [...]uint64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13,
	1e14, 1e15, 1e16, 1e17, 1e18, 1e19}

// fileKey is what the file half of an ID hashes, with its digest.
type fileKey struct {
	evidence, path, parser, identity string
	chain                            []string
	sum                              [sha256.Size]byte
}

func (k *fileKey) matches(p *Provenance) bool {
	return k.path == p.Path && k.evidence == p.EvidenceSHA256 && k.parser == p.Parser &&
		k.identity == p.Identity && slices.Equal(k.chain, p.Chain)
}

// fileDigests caches the file half of recent IDs: a file's events come one
// after the other, from one goroutine per file, so a few slots picked by
// the path serve several files ingested at once. A slot holds an immutable
// fileKey swapped whole, so readers on other goroutines need no lock; a
// miss (another file took the slot) only costs the hash again.
var fileDigests [16]atomic.Pointer[fileKey]

var fileDigestSeed = maphash.MakeSeed()

// fileDigest returns the SHA-256 of the file fields of p (see ComputeID),
// and the slot of fileDigests (and idBlocks) that p's path falls in.
func fileDigest(p *Provenance) ([sha256.Size]byte, uint64) {
	i := maphash.String(fileDigestSeed, p.Path) % uint64(len(fileDigests))
	slot := &fileDigests[i]
	if k := slot.Load(); k != nil && k.matches(p) {
		return k.sum, i
	}
	k := &fileKey{evidence: p.EvidenceSHA256, path: p.Path, parser: p.Parser, identity: p.Identity,
		chain: slices.Clone(p.Chain)}
	var stack [512]byte
	b := appendField(stack[:0], "jejak-event-v2")
	b = appendField(b, p.EvidenceSHA256)
	b = appendNumField(b, int64(len(p.Chain)))
	for _, c := range p.Chain {
		b = appendField(b, c)
	}
	b = appendField(b, p.Path)
	b = appendField(b, p.Parser)
	if p.Identity != "" {
		// Only when set, so files unique by path keep the IDs they had
		// before identities existed. Length-prefixed fields keep
		// "identity present" from ever hashing like "absent".
		b = appendField(b, p.Identity)
	}
	k.sum = sha256.Sum256(b)
	slot.Store(k)
	return k.sum, i
}

// Finalize normalises an event before it is stored: UTC timestamp, its ID,
// and the related.* pivots derived from the fields that are set: the
// names of the user, effective user and target user, then the source and
// destination IPs, each once, appended to what Related already holds
// unless there already.
func (e *Event) Finalize() {
	e.Timestamp = e.Timestamp.UTC()
	e.Jejak.ID = ComputeID(e.Jejak.Provenance, e.TimestampDesc)
	// At most three users and two IPs: on the stack.
	var found [5]string
	users, ips := e.RelatedNames(found[:0:3], found[3:3:5])
	if len(users) == 0 && len(ips) == 0 {
		return
	}
	r := e.Related
	if r == nil {
		e.Related = newRelated(users, ips)
		return
	}
	for _, u := range users {
		if !contains(r.User, u) {
			r.User = append(r.User, u)
		}
	}
	for _, ip := range ips {
		if !contains(r.IP, ip) {
			r.IP = append(r.IP, ip)
		}
	}
}

// RelatedNames appends to users and ips what Finalize adds to related.*:
// the names of e's user, effective user and target user, then its source
// and destination IPs, each once, none empty. A parser that fills Related
// before Finalize (parsers/syslog) lists them with it, so that the two
// cannot differ.
func (e *Event) RelatedNames(users, ips []string) ([]string, []string) {
	if u := e.User; u != nil {
		users = addNew(users, u.Name)
		if u.Effective != nil {
			users = addNew(users, u.Effective.Name)
		}
		if u.Target != nil {
			users = addNew(users, u.Target.Name)
		}
	}
	if e.Source != nil {
		ips = addNew(ips, e.Source.IP)
	}
	if e.Destination != nil {
		ips = addNew(ips, e.Destination.IP)
	}
	return users, ips
}

// addNew appends s to list unless it is empty or there already.
func addNew(list []string, s string) []string {
	if s == "" || contains(list, s) {
		return list
	}
	return append(list, s)
}

// newRelated returns a Related holding users and ips (either may be
// empty, then left nil), the struct and the lists' storage in one
// allocation. Each list's capacity is its length, so an append to one
// never writes into the other.
func newRelated(users, ips []string) *Related {
	var r *Related
	var s []string
	switch len(users) + len(ips) {
	case 1:
		b := new(struct {
			r Related
			s [1]string
		})
		r, s = &b.r, b.s[:]
	case 2:
		b := new(struct {
			r Related
			s [2]string
		})
		r, s = &b.r, b.s[:]
	case 3:
		b := new(struct {
			r Related
			s [3]string
		})
		r, s = &b.r, b.s[:]
	case 4:
		b := new(struct {
			r Related
			s [4]string
		})
		r, s = &b.r, b.s[:]
	default:
		b := new(struct {
			r Related
			s [5]string
		})
		r, s = &b.r, b.s[:]
	}
	nu := copy(s, users)
	ni := copy(s[nu:], ips)
	if nu > 0 {
		r.User = s[:nu:nu]
	}
	if ni > 0 {
		r.IP = s[nu : nu+ni : nu+ni]
	}
	return r
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Recycler is implemented by a parser that can reuse the memory of the
// events it emitted (parsers/syslog: each event's block of sub-structures)
// once the pipeline is done with them. The ingest calls Recycle for each
// event the parser's Parse emitted, once every sink has written the batch
// holding it, only when its sinks keep nothing of an event after Write
// returns (ingest.Config.Recycle); without it, events are left to the
// collector as ever. After Recycle, neither the event nor anything it
// points into (a struct, a slice's array, a map) may be read: the parser reuses
// it for another record. A string copied out of an event before stays
// valid: a Recycler reuses an event's structs, never the bytes its strings
// point to.
type Recycler interface {
	Recycle(ev *Event)
}
