package auth

// MemoryFailures is the in-memory FailureStore, for package auth_test.
type MemoryFailures = memoryFailures

// NewMemoryFailures returns an empty in-memory FailureStore.
func NewMemoryFailures() *MemoryFailures { return newMemoryFailures() }

// Records returns the number of records, overflow records included,
// checking the count of the others against them.
func (m *memoryFailures) Records() (int, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries), m.records <= len(m.entries)
}
