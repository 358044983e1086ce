package claimloop

import "time"

// Backoff is the wait after the n-th failed attempt (n >= 1): min,
// doubling each time, at most max.
func Backoff(n int, min, max time.Duration) time.Duration {
	d := min
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	return clamp(d, min, max)
}

func clamp(d, lo, hi time.Duration) time.Duration {
	if d > hi {
		return hi
	}
	if d < lo {
		return lo
	}
	return d
}
