//go:build linux

package evidence

import (
	"errors"
	"io"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// directReader reads a large evidence file for an in-line hash pass
// (hashParts: the SHA-256 pass the ingest waits for, the late SHA-1 and
// MD5) with O_DIRECT, and lends its own buffers to the hashes instead of
// copying into the caller's.
//
// Why: read through the page cache, every byte costs a kernel copy, on
// each of the passes over the same data (the 300k-file NTFS image's 369
// MiB of data three times: 0.47 CPU-s of pread in a profile of its whole
// analyze, both cores busy from start to end). A direct read is a DMA
// into the buffer: `dd` of that image took 0.22-0.27 s of system time
// buffered, 0.03-0.05 s direct. Part of the saving comes back as user
// time, the first hash reading the data from memory, not from the cache
// the copy left it in: a SHA-256 pass alone over the image was +0.08 s
// user, -0.10 s system; the whole analyze's user+sys dropped all the
// same (see the commit). (Mapping the file instead was tried and
// rejected: the SHA-NI loops waited on its page faults.)
//
// The reads are asynchronous (Linux native AIO, which on a file opened
// O_DIRECT does not block in io_submit): up to directBufs-1 reads are in
// flight ahead of the hashes, so the disk's time is hidden behind the
// hashing (with one, the SHA-256 pass waited for the disk at its start).
// A goroutine blocked in pread would not do: with both cores busy
// hashing it waits for a P after each read, so reads and hashing take
// turns all the same.
//
// Direct reads go to the disk even when the file is in the page cache.
// On a fast disk that costs nothing (the bench VM's virtual disk: 1-2
// GB/s direct; the hashes waited under 40 ms in a 3 s pass), but on a
// slow one with a warm cache they would make hashing disk-bound: so once
// more than half of the reads were not done when the hashes came to them
// (checked from the 64th read on: the first reads of the two passes that
// start together wait more), the rest of the pass reads through the page
// cache again, one read at a time as before. With reads in flight ahead,
// a disk slower than the hashes leaves nearly every read not done, a
// faster one nearly none; counting reads, not time waited, keeps a
// loaded machine (a waiting thread woken late) from looking like a slow
// disk. Any
// refusal or error of a direct read (a file system without O_DIRECT, an
// alignment it does not accept, AIO not permitted) ends the direct reads
// the same way, and that read is made again buffered.
//
// Holes of a sparse file are found as sparseReader finds them and lent
// as zeroPart, neither read nor cleared. Nothing past the size measured
// at open is hashed: a file that grew or shrank meanwhile fails the size
// and mtime check of hashFileBy after the pass (a short read ends the
// stream there, so its count differs too).
type directReader struct {
	f     *os.File
	fd    int
	size  int64 // measured at open
	align int64

	// The planner: the next byte to plan (p) and the run it is in, as
	// sparseReader keeps them.
	p                int64
	dataEnd, holeEnd int64
	plain            bool

	mem    []byte   // mapped for bufs
	bufs   [][]byte // directBufs of them, aligned, directBuf long
	free   []int    // indexes of bufs not in use
	q      []dseg   // planned, not yet lent; a data segment in it is submitted
	cur    dseg     // being lent
	curBuf int      // the buffer cur's data is in, or -1
	err    error    // sticky: the end of the stream, or an error

	direct   bool    // reads are still direct
	aio      uintptr // AIO context
	inflight int     // reads submitted and not reaped
	cbs      []iocb  // the read of each buffer
	reaped   []bool  // the read of a buffer ended: res says how
	res      []int64

	// The adaptive switch: the number of direct reads, and of those the
	// hashes had to wait for.
	reads, waits int
}

// dseg is a segment of the stream: a hole of n bytes, or n bytes of data
// at off, read into bufs[buf] at skip (off less skip is aligned).
type dseg struct {
	hole      bool
	off, n    int64
	buf       int
	skip      int64
	data      []byte // what is left to lend
	submitted bool
}

const (
	// directMin: a smaller file is read buffered (the set-up is a few
	// system calls, not worth it for a few reads).
	directMin = 8 << 20
	// directBuf is the size of one direct read.
	directBuf = 1 << 20
	// directBufs: the buffer lent and up to directBufs-1 reads in flight.
	directBufs = 4
	// When more than 1/directWaitShare of the reads were not done when
	// the hashes came to them, from directMinReads reads on, the rest is
	// read buffered.
	directWaitShare = 2
	directMinReads  = 64
)

// newDirectReader returns a directReader of f (of size bytes at open)
// from off, or nil when O_DIRECT or AIO is refused: the caller then reads
// as before.
func newDirectReader(f *os.File, size, off int64) *directReader {
	if size-off < directMin || unsafe.Sizeof(uintptr(0)) != 8 {
		return nil // small, or a 32-bit system, where iocb's pointer field is laid out otherwise
	}
	d := &directReader{f: f, size: size, p: off, align: 4096, curBuf: -1}
	if !d.setDirect(true) {
		return nil
	}
	var stx unix.Statx_t
	if unix.Statx(d.fd, "", unix.AT_EMPTY_PATH, unix.STATX_DIOALIGN, &stx) == nil && stx.Mask&unix.STATX_DIOALIGN != 0 {
		if stx.Dio_offset_align == 0 || stx.Dio_mem_align == 0 || stx.Dio_offset_align > directBuf || stx.Dio_mem_align > directBuf {
			d.setDirect(false) // no direct I/O on this file
			return nil
		}
		d.align = max(d.align, int64(stx.Dio_offset_align), int64(stx.Dio_mem_align))
	}
	if _, _, e := syscall.Syscall(unix.SYS_IO_SETUP, directBufs, uintptr(unsafe.Pointer(&d.aio)), 0); e != 0 {
		d.setDirect(false)
		return nil
	}
	d.bufs, d.cbs = make([][]byte, directBufs), make([]iocb, directBufs)
	d.reaped, d.res = make([]bool, directBufs), make([]int64, directBufs)
	// The buffers are mapped apart from the Go heap: page-aligned, not
	// counted in the collector's pace, unmapped by release.
	m, err := unix.Mmap(-1, 0, directBufs*directBuf+int(d.align), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		d.release()
		d.setDirect(false)
		return nil
	}
	d.mem = m
	k := int((d.align - int64(uintptr(unsafe.Pointer(&m[0])))%d.align) % d.align)
	for i := range d.bufs {
		d.bufs[i] = m[k+i*directBuf : k+(i+1)*directBuf : k+(i+1)*directBuf]
		d.free = append(d.free, i)
	}
	return d
}

// setDirect turns O_DIRECT on or off on f; false when refused.
func (d *directReader) setDirect(on bool) bool {
	rc, err := d.f.SyscallConn()
	if err != nil {
		return false
	}
	var ferr error
	if err := rc.Control(func(u uintptr) {
		d.fd = int(u)
		var fl int
		if fl, ferr = unix.FcntlInt(u, unix.F_GETFL, 0); ferr == nil {
			if on {
				fl |= unix.O_DIRECT
			} else {
				fl &^= unix.O_DIRECT
			}
			_, ferr = unix.FcntlInt(u, unix.F_SETFL, fl)
		}
	}); err != nil || ferr != nil {
		return false
	}
	d.direct = on
	return true
}

// buffered ends the direct reads: the rest of the pass goes through the
// page cache, one read at a time as before.
func (d *directReader) buffered() {
	if d.direct {
		d.setDirect(false)
		d.direct = false
	}
}

// release reaps the read in flight and frees the AIO context; d is not
// used after it.
func (d *directReader) release() {
	for d.inflight > 0 {
		if err := d.reapSome(false); err != nil {
			break
		}
	}
	if d.aio != 0 {
		syscall.Syscall(unix.SYS_IO_DESTROY, d.aio, 0, 0)
		d.aio = 0
	}
	if d.mem != nil && d.inflight == 0 {
		unix.Munmap(d.mem)
		d.mem, d.bufs = nil, nil
	}
}

// lend returns the next up to n bytes of the stream, in a buffer of d's
// (or zeroPart for a hole) valid until the next call; io.EOF at the end.
func (d *directReader) lend(n int) ([]byte, error) {
	for {
		if d.cur.hole && d.cur.n > 0 {
			k := int(min(int64(n), int64(len(zeroPart)), d.cur.n))
			d.cur.n -= int64(k)
			return zeroPart[:k], nil
		}
		if len(d.cur.data) > 0 {
			k := min(n, len(d.cur.data))
			b := d.cur.data[:k]
			d.cur.data = d.cur.data[k:]
			return b, nil
		}
		if d.err != nil {
			return nil, d.err
		}
		d.advance()
	}
}

// advance makes the next planned segment current, its data read, and
// plans and submits the one after.
func (d *directReader) advance() {
	if d.curBuf >= 0 {
		d.free = append(d.free, d.curBuf)
		d.curBuf = -1
	}
	d.cur = dseg{}
	if len(d.q) == 0 && !d.planData() {
		return
	}
	s := d.q[0]
	d.q = d.q[1:]
	if !s.hole {
		d.curBuf = s.buf
		got, err := d.finish(&s)
		if err != nil {
			d.err = err
			return
		}
		if got < s.n {
			// Shorter than at open: the stream ends here, and hashFileBy
			// reports the change.
			s.n = got
			d.err = io.EOF
		}
		s.data = d.bufs[s.buf][s.skip : s.skip+s.n]
	}
	d.cur = s
	if d.err == nil {
		d.planData()
	}
}

// planData plans segments while a buffer is free (their reads submitted
// when reads are direct) or to the file's end; false when q is empty
// then, with d.err set.
func (d *directReader) planData() bool {
	for len(d.free) > 0 && d.p < d.size {
		if !d.plain && d.p >= d.dataEnd && d.p >= d.holeEnd {
			d.locate()
		}
		if d.p < d.holeEnd {
			end := min(d.holeEnd, d.size)
			d.q = append(d.q, dseg{hole: true, off: d.p, n: end - d.p})
			d.p = end
			continue
		}
		end := d.size
		if !d.plain {
			end = min(d.dataEnd, d.size)
		}
		s := dseg{off: d.p, skip: d.p & (d.align - 1), buf: d.free[len(d.free)-1]}
		s.n = min(end-d.p, directBuf-s.skip)
		d.free = d.free[:len(d.free)-1]
		d.p += s.n
		d.submit(&s)
		d.q = append(d.q, s)
		if !d.direct {
			break // read when lent, one at a time as before
		}
	}
	if len(d.q) == 0 && d.err == nil {
		d.err = io.EOF
	}
	return len(d.q) > 0
}

// locate is sparseReader.locate, bounded by the size at open.
func (d *directReader) locate() {
	data, err := unix.Seek(d.fd, d.p, unix.SEEK_DATA)
	switch {
	case errors.Is(err, syscall.ENXIO):
		d.holeEnd = d.size
		return
	case err != nil:
		d.plain = true
		return
	case data > d.p:
		d.holeEnd = data
		return
	}
	hole, err := unix.Seek(d.fd, d.p, unix.SEEK_HOLE)
	if err != nil || hole <= d.p {
		d.plain = true
		return
	}
	d.dataEnd = hole
}

// Test hooks: directSubmitHook edits each read before it is submitted
// (to make the kernel refuse it); directTestSlow counts every read as a
// long wait (the adaptive switch).
var (
	directSubmitHook func(*iocb)
	directTestSlow   bool
)

// iocb is Linux's struct iocb (little-endian layout: aio_key first). The
// blank fields are aio_key, aio_rw_flags, aio_reqprio, aio_reserved2,
// aio_flags and aio_resfd: zero in every read made here.
type iocb struct {
	data   uint64
	_      uint32
	_      int32
	opcode uint16
	_      int16
	fildes uint32
	buf    uint64
	nbytes uint64
	offset int64
	_      uint64
	_      uint32
	_      uint32
}

// ioEvent is Linux's struct io_event.
type ioEvent struct {
	data, obj uint64
	res, res2 int64
}

// Both as the kernel has them, or the build stops.
var _ = [1]struct{}{}[unsafe.Sizeof(iocb{})-64]
var _ = [1]struct{}{}[unsafe.Sizeof(ioEvent{})-32]

// submit starts the direct read of s: the whole aligned blocks around
// it. Buffered, or when AIO refuses it, the read is made by finish.
func (d *directReader) submit(s *dseg) {
	if !d.direct {
		return
	}
	ln := (s.skip + s.n + d.align - 1) &^ (d.align - 1)
	cb := &d.cbs[s.buf]
	*cb = iocb{data: uint64(s.buf), opcode: 0 /* IOCB_CMD_PREAD */, fildes: uint32(d.fd),
		buf: uint64(uintptr(unsafe.Pointer(&d.bufs[s.buf][0]))), nbytes: uint64(ln), offset: s.off - s.skip}
	if directSubmitHook != nil {
		directSubmitHook(cb)
	}
	for {
		r, _, e := syscall.Syscall(unix.SYS_IO_SUBMIT, d.aio, 1, uintptr(unsafe.Pointer(&cb)))
		if e == syscall.EINTR || e == syscall.EAGAIN {
			continue
		}
		if e != 0 || r != 1 {
			d.buffered()
			return
		}
		break
	}
	s.submitted = true
	d.reaped[s.buf] = false
	d.inflight++
}

// finish waits for the read of s and returns how many of its bytes were
// read. A failed or short direct read is made again (the rest of it)
// buffered, and the rest of the pass is buffered.
func (d *directReader) finish(s *dseg) (int64, error) {
	var got int64
	if s.submitted {
		if !d.reaped[s.buf] {
			if err := d.reapSome(true); err != nil {
				return 0, err
			}
		}
		if !d.reaped[s.buf] || directTestSlow {
			d.waits++
		}
		for !d.reaped[s.buf] {
			if err := d.reapSome(false); err != nil {
				return 0, err
			}
		}
		res := d.res[s.buf]
		if res >= 0 {
			d.reads++
			if d.reads >= directMinReads && d.waits*directWaitShare > d.reads {
				// Disk-bound: the page cache may do better.
				d.buffered()
			}
			got = min(max(res-s.skip, 0), s.n)
			if got == s.n {
				return got, nil
			}
		}
	}
	d.buffered()
	k, err := d.f.ReadAt(d.bufs[s.buf][s.skip+got:s.skip+s.n], s.off+got)
	if err == io.EOF {
		err = nil // short: the stream ends there
	}
	return got + int64(k), err
}

// reapSome waits for at least one read in flight to end, or with poll
// only looks, and records the result of each that did: the bytes read,
// or a negative errno.
func (d *directReader) reapSome(poll bool) error {
	var evs [directBufs]ioEvent
	var zero unix.Timespec
	for {
		var least, tp uintptr = 1, 0
		if poll {
			least, tp = 0, uintptr(unsafe.Pointer(&zero))
		}
		r, _, e := syscall.Syscall6(unix.SYS_IO_GETEVENTS, d.aio, least, directBufs, uintptr(unsafe.Pointer(&evs[0])), tp, 0)
		if e == syscall.EINTR || (e == 0 && r == 0 && !poll) {
			continue
		}
		if e != 0 {
			return e
		}
		for _, ev := range evs[:r] {
			if ev.data >= directBufs {
				return syscall.EIO // not ours
			}
			d.reaped[ev.data], d.res[ev.data] = true, ev.res
			d.inflight--
		}
		return nil
	}
}
