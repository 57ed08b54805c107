package iam

import (
	"context"
	"slices"
	"strings"
	"unique"
)

// ListObjectIDs implements ObjectLister from the store's sorted indexes.
// Without recorded parents it merges q.Type's lists, seeking q.After by
// binary search; with them it walks down from every granted object, at most
// q.MaxDepth levels, checking ctx as it goes.
func (m *MemoryStore) ListObjectIDs(ctx context.Context, q ObjectQuery) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st := m.cur.Load()
	typ := unique.Make(q.Type)
	type key struct {
		name string
		role bool
	}
	var names []key
	for _, p := range q.Perms {
		names = append(names, key{p, false})
	}
	for _, r := range q.Roles {
		names = append(names, key{r, true})
	}
	entries := make([]grantEntry, 0, len(q.Holders)*len(names))
	for _, h := range q.Holders {
		if !h.Valid() {
			continue
		}
		hid := unique.Make(h.ID)
		for _, n := range names {
			entries = append(entries, grantEntry{holder: hid, name: unique.Make(n.name), kind: h.Kind, role: n.role})
		}
	}
	// With expiring grants in the store, an indexed ID counts only while
	// its grant is live at q.At.
	var at int64
	filter := st.expiring && !q.At.IsZero()
	if filter {
		at = q.At.UnixNano()
	}
	var ids []string
	if st.children.Len() == 0 {
		// No recorded parents: only grants on objects of q.Type count.
		var lists [][]string
		for _, e := range entries {
			l := st.held.Get(m.hashHeld(heldKey{e, typ}), heldKey{e, typ})
			if i, _ := slices.BinarySearch(l, q.After); q.After != "" && i < len(l) && l[i] == q.After {
				l = l[i+1:]
			} else {
				l = l[i:]
			}
			if filter {
				l = st.liveOnly(e, q.Type, l, at)
			}
			if len(l) > 0 {
				lists = append(lists, l)
			}
		}
		if len(lists) == 1 {
			l := lists[0]
			if q.Limit > 0 && len(l) > q.Limit {
				l = l[:q.Limit]
			}
			return slices.Clone(l), nil
		}
		for _, l := range lists {
			ids = append(ids, l...)
		}
	} else {
		var err error
		if ids, err = m.walkDown(ctx, st, entries, q); err != nil {
			return nil, err
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if q.Limit > 0 && len(ids) > q.Limit {
		ids = ids[:q.Limit]
	}
	return slices.Clip(ids), nil
}

// liveOnly returns the IDs of l whose grant entry e on (typ, id) is live at
// at (a new slice when some are not).
func (st *memState) liveOnly(e grantEntry, typ string, l []string, at int64) []string {
	for i, id := range l {
		if st.liveAt(e, Ref{Type: typ, ID: id}, at) {
			continue
		}
		out := slices.Clone(l[:i])
		for _, id := range l[i+1:] {
			if st.liveAt(e, Ref{Type: typ, ID: id}, at) {
				out = append(out, id)
			}
		}
		return out
	}
	return l
}

// liveAt reports whether entry e on the object ref is live at at.
func (st *memState) liveAt(e grantEntry, ref Ref, at int64) bool {
	gs, _ := st.Grants(context.Background(), ref)
	i := gs.index(e)
	return i >= 0 && gs.live(i, at)
}

// walkDown collects the q.Type IDs at or below the objects (of any type) the
// entries are granted on, breadth first so each is reached first at its
// smallest depth. Only objects with children are marked seen (stopping
// cycles and diamonds); an ID listed twice is compacted by the caller.
func (m *MemoryStore) walkDown(ctx context.Context, st *memState, entries []grantEntry, q ObjectQuery) ([]string, error) {
	type node struct {
		depth int
		kids  []Ref
	}
	var (
		ids   []string
		queue []node
		seen  = map[Ref]struct{}{}
	)
	visit := func(r Ref, depth int) {
		if r.Type == q.Type && r.ID > q.After {
			ids = append(ids, r.ID)
		}
		if depth >= q.MaxDepth {
			return
		}
		kids := st.children.Get(m.hashRef(r), r)
		if len(kids) == 0 {
			return
		}
		if _, ok := seen[r]; ok {
			return
		}
		seen[r] = struct{}{}
		queue = append(queue, node{depth, kids})
	}
	var err error
	st.grants.RangeA(func(t string) bool {
		k := heldKey{typ: unique.Make(t)}
		for _, e := range entries {
			k.e = e
			for _, id := range st.held.Get(m.hashHeld(k), k) {
				if !st.expiring || q.At.IsZero() || st.liveAt(e, Ref{Type: t, ID: id}, q.At.UnixNano()) {
					visit(Ref{Type: t, ID: id}, 0)
				}
			}
			if err = ctx.Err(); err != nil {
				return false
			}
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	for i := 0; i < len(queue); i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n := queue[i]
		for _, c := range n.kids {
			visit(c, n.depth+1)
		}
	}
	return ids, nil
}

// GroupMembers implements MemberLister, scanning every user: not for checks.
func (m *MemoryStore) GroupMembers(ctx context.Context, group string) ([]string, error) {
	var out []string
	n := 0
	m.cur.Load().users.Range(func(id string, h *Holding) bool {
		if n++; n%4096 == 0 && ctx.Err() != nil {
			return false // a scan of many users stops when ctx is done
		}
		if slices.Contains(h.groups, group) {
			out = append(out, id)
		}
		return true
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(out, strings.Compare)
	return out, nil
}
