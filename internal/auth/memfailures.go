package auth

import (
	"context"
	"strings"
	"sync"
	"time"
)

// memoryFailures is the FailureStore of one process, with the bound of
// the FailureStore contract. Records whose window and lockout have both
// ended are swept every sweepEvery failures; a full store makes room by
// dropping an unlocked record (evict), which costs O(evictSample) while
// unlocked records are common.
type memoryFailures struct {
	mu      sync.Mutex
	entries map[string]*failures // overflow records included
	records int                  // entries but the overflow records
	adds    int                  // failures since the last sweep
	// allLockedUntil: a full scan found every record locked out, the
	// first until then.
	allLockedUntil time.Time
}

// failures is the record of one IP or login name.
type failures struct {
	count       int
	first       time.Time // first failure of the current window
	lockedUntil time.Time
}

const (
	sweepEvery  = 1024
	evictSample = 64
)

var _ FailureStore = (*memoryFailures)(nil)

// NewMemoryFailures returns the FailureStore that a Service without
// ThrottleOptions.Shared keeps in memory (for comparisons with a shared
// one).
func NewMemoryFailures() FailureStore { return newMemoryFailures() }

func newMemoryFailures() *memoryFailures {
	return &memoryFailures{entries: map[string]*failures{}}
}

func isOverflowKey(key string) bool { return strings.HasPrefix(key, "overflow:") }

// LoginLockouts implements FailureStore.
func (m *memoryFailures) LoginLockouts(_ context.Context, keys []string) ([]time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]time.Time, len(keys))
	for i, k := range keys {
		f := m.entries[k]
		if f == nil {
			f = m.entries[OverflowKey(k)]
		}
		if f != nil {
			out[i] = f.lockedUntil
		}
	}
	return out, nil
}

// AddLoginFailures implements FailureStore.
func (m *memoryFailures) AddLoginFailures(_ context.Context, now time.Time, window time.Duration, maxRecords int, keys []FailureKey) ([]FailureCount, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.adds++; m.adds >= sweepEvery {
		m.sweep(now, window)
	}
	out := make([]FailureCount, len(keys))
	for i, k := range keys {
		f := m.record(k.Key, now, maxRecords)
		if f.count == 0 || now.Sub(f.first) > window {
			f.count, f.first = 0, now
		}
		f.count++
		out[i].Count = f.count
		if f.count >= k.Limit {
			f.lockedUntil = now.Add(window)
			f.count = 0 // counting starts afresh after the lockout
			out[i].Locked = true
		}
	}
	return out, nil
}

// record returns key's record, making one (in the place of an unlocked
// record when full, or the overflow record when every record sampled is
// locked out). Must hold mu.
func (m *memoryFailures) record(key string, now time.Time, maxRecords int) *failures {
	if f := m.entries[key]; f != nil {
		return f
	}
	if m.records >= maxRecords && !m.evict(now) {
		key = OverflowKey(key)
		if f := m.entries[key]; f != nil {
			return f
		}
		f := &failures{}
		m.entries[key] = f
		return f
	}
	f := &failures{}
	m.entries[key] = f
	m.records++
	return f
}

// evict drops an unlocked record, the one with the oldest first failure
// among evictSample records, or among all when none of those is
// unlocked, and reports whether there was one. A full scan that finds
// every record locked out is not repeated before the first lockout
// ends. Must hold mu.
func (m *memoryFailures) evict(now time.Time) bool {
	if m.evictAmong(now, evictSample) {
		return true
	}
	if now.Before(m.allLockedUntil) {
		return false
	}
	if m.evictAmong(now, len(m.entries)) {
		return true
	}
	m.allLockedUntil = time.Time{}
	for k, f := range m.entries {
		if !isOverflowKey(k) && (m.allLockedUntil.IsZero() || f.lockedUntil.Before(m.allLockedUntil)) {
			m.allLockedUntil = f.lockedUntil
		}
	}
	return false
}

// evictAmong drops the unlocked record with the oldest first failure
// among the first n records of a map iteration (which starts at random).
func (m *memoryFailures) evictAmong(now time.Time, n int) bool {
	var victim string
	var oldest time.Time
	seen := 0
	for k, f := range m.entries {
		if seen++; seen > n {
			break
		}
		if isOverflowKey(k) || now.Before(f.lockedUntil) {
			continue
		}
		if victim == "" || f.first.Before(oldest) {
			victim, oldest = k, f.first
		}
	}
	if victim == "" {
		return false
	}
	m.remove(victim)
	return true
}

// sweep drops the records whose window and lockout have ended. Must
// hold mu.
func (m *memoryFailures) sweep(now time.Time, window time.Duration) {
	m.adds = 0
	for k, f := range m.entries {
		if !now.Before(f.lockedUntil) && now.Sub(f.first) > window {
			m.remove(k)
		}
	}
}

// remove deletes key's record. Must hold mu.
func (m *memoryFailures) remove(key string) {
	delete(m.entries, key)
	if !isOverflowKey(key) {
		m.records--
	}
}

// ClearLoginFailures implements FailureStore.
func (m *memoryFailures) ClearLoginFailures(_ context.Context, key string, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if f := m.entries[key]; f != nil && !now.Before(f.lockedUntil) {
		m.remove(key)
	}
	return nil
}
