package hunt

import (
	"fmt"
	"strconv"
	"time"
)

// Rule parameters, read with defaults; a malformed one is an error of the
// rule file, reported when the hunt starts.

func (r *Rule) intParam(name string, def int) (int, error) {
	s, ok := r.Parameters[name]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("parameter %s=%q: want a positive integer", name, s)
	}
	return n, nil
}

func (r *Rule) durationParam(name string, def time.Duration) (time.Duration, error) {
	s, ok := r.Parameters[name]
	if !ok {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("parameter %s=%q: want a positive duration such as 10m", name, s)
	}
	return d, nil
}

func (r *Rule) stringParam(name, def string, allowed ...string) (string, error) {
	s, ok := r.Parameters[name]
	if !ok {
		return def, nil
	}
	for _, a := range allowed {
		if s == a {
			return s, nil
		}
	}
	return "", fmt.Errorf("parameter %s=%q: want one of %v", name, s, allowed)
}
