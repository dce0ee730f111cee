package elastic

// WithSliceCounts makes r record how many events each slice read, so tests
// can see that the slices shared the work rather than one reading it all.
func WithSliceCounts(r Sliced, counts []int64) Sliced {
	r.counts = counts
	return r
}
