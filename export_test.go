package iam

// MemoryCounts counts what a MemoryStore holds, for the tests of this
// package: principals with a profile or a membership, refs with at least
// one grant, grants.
type MemoryCounts struct{ Principals, Refs, Grants int }

// CountMemory walks every grant set of m's current snapshot.
func CountMemory(m *MemoryStore) MemoryCounts {
	st := m.cur.Load()
	c := MemoryCounts{Principals: st.users.Len() + st.groups.Len(), Refs: st.grants.Len() + len(st.wide)}
	st.grants.Range(func(_, _ string, g *GrantSet) bool { c.Grants += g.Len(); return true })
	for _, g := range st.wide {
		c.Grants += g.Len()
	}
	return c
}
