package shard

import "slices"

// Lists is an immutable map from keys to sorted lists of distinct elements
// (an index: the objects a holder has grants on, the children of a parent).
// Lists are kept sorted so that readers can merge them and seek with a
// binary search. The zero Lists is empty and usable.
//
// Concurrency: as Map. A ListsBatch is for one writer at a time.
type Lists[K comparable, E comparable] struct {
	m Map[K, []E]
}

// Len returns the number of keys with a non-empty list.
func (l Lists[K, E]) Len() int { return l.m.Len() }

// Get returns the sorted list of k (h is k's hash). It is shared: do not
// modify it.
func (l Lists[K, E]) Get(h uint64, k K) []E {
	v, _ := l.m.Get(h, k)
	return v
}

// ListsBatch edits a Lists into a new one. Edits to one key are gathered and
// applied at Commit, so a bulk load of n elements costs O(n log n) however
// they arrive, and one edit to a list of k elements costs O(k).
type ListsBatch[K comparable, E comparable] struct {
	outer   *Batch[K, []E]
	cmp     func(a, b E) int
	pending map[K]*listEdit[E]
}

type listEdit[E comparable] struct {
	base []E // the committed list (sorted, shared)
	adds []E
	dels map[E]struct{}
}

// Edit starts a batch on l. hash must be the function whose values are passed
// to Get; cmp orders the elements.
func (l Lists[K, E]) Edit(hash func(K) uint64, cmp func(a, b E) int) *ListsBatch[K, E] {
	return &ListsBatch[K, E]{outer: l.m.Edit(hash), cmp: cmp}
}

func (b *ListsBatch[K, E]) edit(k K) *listEdit[E] {
	if e, ok := b.pending[k]; ok {
		return e
	}
	if b.pending == nil {
		b.pending = map[K]*listEdit[E]{}
	}
	base, _ := b.outer.Get(k)
	e := &listEdit[E]{base: base}
	b.pending[k] = e
	return e
}

// Add puts e in k's list (no effect if it is there).
func (b *ListsBatch[K, E]) Add(k K, e E) {
	ed := b.edit(k)
	delete(ed.dels, e)
	ed.adds = append(ed.adds, e)
}

// Remove takes e out of k's list (no effect if it is absent).
func (b *ListsBatch[K, E]) Remove(k K, e E) {
	ed := b.edit(k)
	if ed.dels == nil {
		ed.dels = map[E]struct{}{}
	}
	ed.dels[e] = struct{}{}
	ed.adds = slices.DeleteFunc(ed.adds, func(x E) bool { return x == e })
}

// Get returns k's list as Commit would leave it, edits included. It is
// shared or new: do not modify it.
func (b *ListsBatch[K, E]) Get(k K) []E {
	if ed, ok := b.pending[k]; ok {
		return b.merge(ed)
	}
	v, _ := b.outer.Get(k)
	return v
}

// Commit returns the edited Lists. The batch must not be used afterwards.
func (b *ListsBatch[K, E]) Commit() Lists[K, E] {
	for k, ed := range b.pending {
		list := b.merge(ed)
		if len(list) == 0 {
			b.outer.Delete(k)
		} else {
			b.outer.Set(k, list)
		}
	}
	b.pending = nil
	return Lists[K, E]{m: b.outer.Commit()}
}

// merge returns base with adds merged in and dels removed, sorted and
// distinct, in a new exactly sized slice (base is shared with readers).
func (b *ListsBatch[K, E]) merge(ed *listEdit[E]) []E {
	slices.SortFunc(ed.adds, b.cmp)
	ed.adds = slices.CompactFunc(ed.adds, func(x, y E) bool { return b.cmp(x, y) == 0 })
	out := make([]E, 0, len(ed.base)+len(ed.adds))
	i, j := 0, 0
	for i < len(ed.base) || j < len(ed.adds) {
		var e E
		switch {
		case j == len(ed.adds):
			e = ed.base[i]
			i++
		case i == len(ed.base):
			e = ed.adds[j]
			j++
		default:
			switch c := b.cmp(ed.base[i], ed.adds[j]); {
			case c < 0:
				e = ed.base[i]
				i++
			case c > 0:
				e = ed.adds[j]
				j++
			default:
				e = ed.base[i]
				i++
				j++
			}
		}
		if _, del := ed.dels[e]; !del {
			out = append(out, e)
		}
	}
	return slices.Clip(out)
}
