package auth

// Records returns the number of records, overflow records included, and
// whether the count of the others is consistent with them (for package
// auth_test).
func (m *memoryFailures) Records() (int, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries), m.records <= len(m.entries)
}
