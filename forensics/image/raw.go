package image

import "os"

// Raw is a plain dd image: the file is the media.
type Raw struct {
	f    *os.File
	size int64
}

// OpenRaw opens path as a raw image whatever its content.
func OpenRaw(path string) (*Raw, error) {
	f, size, err := openSized(path, "image")
	if err != nil {
		return nil, err
	}
	return &Raw{f: f, size: size}, nil
}

func (r *Raw) ReadAt(p []byte, off int64) (int, error) { return r.f.ReadAt(p, off) }
func (r *Raw) Size() int64                             { return r.size }
func (r *Raw) Close() error                            { return r.f.Close() }
func (r *Raw) Info() Info {
	return Info{Format: "raw", Segments: []string{r.f.Name()}}
}

var _ Image = (*Raw)(nil)
