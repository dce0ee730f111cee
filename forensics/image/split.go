package image

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/jejak-forensics/jejak/internal/rofile"
)

// Split is a raw image cut into segment files (image.001, image.002, ... or
// image.aa, image.ab, ...), read as their concatenation.
type Split struct {
	files  []*os.File
	starts []int64 // starts[i] is the media offset of files[i]; one extra entry holds the total size
	names  []string
}

var (
	numericSuffix = regexp.MustCompile(`^(.*)\.([0-9]{2,})$`)
	letterSuffix  = regexp.MustCompile(`^(.*)\.([a-z]{2,3}|[A-Z]{2,3})$`)
)

// splitSiblings returns the ordered segment names of the split set path
// belongs to, or nil when path is not part of a set of two or more. A gap in
// the numbering (or a missing first segment) is a *MissingSegmentError.
func splitSiblings(path string) ([]string, error) {
	dir, base := filepath.Split(path)
	var prefix, suffix string
	var index func(string) (int, bool)
	var name func(int) string
	if m := numericSuffix.FindStringSubmatch(base); m != nil {
		prefix, suffix = m[1], m[2]
		width := len(suffix)
		index = func(s string) (int, bool) {
			if len(s) != width || strings.Trim(s, "0123456789") != "" {
				return 0, false
			}
			n, err := strconv.Atoi(s)
			return n, err == nil
		}
		name = func(n int) string { return fmt.Sprintf("%s.%0*d", prefix, width, n) }
	} else if m := letterSuffix.FindStringSubmatch(base); m != nil {
		prefix, suffix = m[1], m[2]
		width := len(suffix)
		first := byte('a')
		if suffix[0] < 'a' {
			first = 'A'
		}
		index = func(s string) (int, bool) {
			if len(s) != width {
				return 0, false
			}
			n := 0
			for i := 0; i < len(s); i++ {
				d := int(s[i]) - int(first)
				if d < 0 || d >= 26 {
					return 0, false
				}
				n = n*26 + d
			}
			return n, true
		}
		name = func(n int) string {
			b := make([]byte, width)
			for i := width - 1; i >= 0; i-- {
				b[i] = first + byte(n%26)
				n /= 26
			}
			return prefix + "." + string(b)
		}
	} else {
		return nil, nil
	}
	// Listed without touching the folder's access time.
	entries, err := rofile.ReadDir(filepath.Clean(dir + "."))
	if err != nil {
		return nil, fmt.Errorf("image: listing segments of %s: %w", path, err)
	}
	var nums []int
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasPrefix(n, prefix+".") {
			continue
		}
		if i, ok := index(n[len(prefix)+1:]); ok {
			nums = append(nums, i)
		}
	}
	if len(nums) < 2 {
		return nil, nil
	}
	sort.Ints(nums)
	// A lettered set has its first segment (.aa, .aaa): without it, names
	// like disk.raw and disk.vhd, or syslog.gz and syslog.xz, are
	// different files, not the segments .raw and .vhd of a set.
	if !numericSuffix.MatchString(base) && nums[0] != 0 {
		return nil, nil
	}
	// Numbered sets start at .001 (some tools at .000); lettered ones at .aa.
	start := 0
	if numericSuffix.MatchString(base) && nums[0] >= 1 {
		start = 1
	}
	var missing []string
	want := start
	var names []string
	for _, n := range nums {
		for ; want < n; want++ {
			missing = append(missing, name(want))
		}
		names = append(names, filepath.Join(dir, name(n)))
		want = n + 1
	}
	if len(missing) > 0 {
		return nil, &MissingSegmentError{Missing: missing, Set: path}
	}
	return names, nil
}

// OpenSplit opens the split raw set that path (any segment) belongs to.
func OpenSplit(path string) (*Split, error) {
	names, err := splitSiblings(path)
	if err != nil {
		return nil, err
	}
	if names == nil {
		names = []string{path}
	}
	return openSplit(path, names)
}

func openSplit(_ string, names []string) (*Split, error) {
	s := &Split{names: names}
	var off int64
	for _, n := range names {
		f, size, err := openSized(n, "")
		if err != nil {
			s.Close()
			return nil, err
		}
		s.files = append(s.files, f)
		s.starts = append(s.starts, off)
		off += size
	}
	s.starts = append(s.starts, off)
	return s, nil
}

func (s *Split) Size() int64 { return s.starts[len(s.starts)-1] }

func (s *Split) ReadAt(p []byte, off int64) (int, error) {
	return readPieces("image", p, off, s.Size(), s.readSegment)
}

// readSegment fills the start of p from the segment that holds off, up to
// that segment's end.
func (s *Split) readSegment(p []byte, off int64) (int, error) {
	// The last file whose start is <= off holds it.
	i := sort.Search(len(s.files), func(i int) bool { return s.starts[i+1] > off })
	want := min(int64(len(p)), s.starts[i+1]-off)
	m, err := s.files[i].ReadAt(p[:want], off-s.starts[i])
	if err != nil && !(err == io.EOF && int64(m) == want) {
		if err == io.EOF {
			err = fmt.Errorf("image: segment %s shrank while open: %w", s.names[i], io.ErrUnexpectedEOF)
		}
		return m, err
	}
	return m, nil
}

func (s *Split) Close() error {
	var first error
	for _, f := range s.files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (s *Split) Info() Info {
	return Info{Format: "split-raw", Segments: append([]string(nil), s.names...)}
}

var _ Image = (*Split)(nil)
