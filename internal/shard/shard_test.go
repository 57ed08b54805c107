package shard

import (
	"hash/maphash"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

var seed = maphash.MakeSeed()

func h(s string) uint64 { return maphash.String(seed, s) }

func TestBatchIsolation(t *testing.T) {
	var m0 Map[string, int]
	_, ok := m0.Get(h("a"), "a")
	require.False(t, ok)

	b := m0.Edit(h)
	for i := range 5000 {
		k := strconv.Itoa(i)
		b.Set(k, i)
	}
	m1 := b.Commit()
	require.Equal(t, 5000, m1.Len())
	require.Equal(t, 0, m0.Len())

	b = m1.Edit(h)
	b.Delete("7")
	b.Delete("missing")
	b.Set("8", 80)
	b.Set("new", -1)
	v, ok := b.Get("8")
	require.True(t, ok)
	require.Equal(t, 80, v)
	m2 := b.Commit()

	// m1 is unchanged by the second batch.
	v, ok = m1.Get(h("7"), "7")
	require.True(t, ok)
	require.Equal(t, 7, v)
	v, _ = m1.Get(h("8"), "8")
	require.Equal(t, 8, v)
	_, ok = m1.Get(h("new"), "new")
	require.False(t, ok)

	_, ok = m2.Get(h("7"), "7")
	require.False(t, ok)
	v, _ = m2.Get(h("8"), "8")
	require.Equal(t, 80, v)
	require.Equal(t, 5000, m2.Len())

	got := map[string]int{}
	m2.Range(func(k string, v int) bool { got[k] = v; return true })
	want := map[string]int{}
	for i := range 5000 {
		if i != 7 {
			want[strconv.Itoa(i)] = i
		}
	}
	want["8"] = 80
	want["new"] = -1
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("Range (-want +got):\n%s", d)
	}
}

func TestEmptyBatchCommit(t *testing.T) {
	var m Map[string, int]
	b := m.Edit(h)
	b.Delete("x")
	require.Equal(t, 0, b.Commit().Len())
}

func TestMap2(t *testing.T) {
	var m Map2[int]
	_, ok := m.Get(seed, "a", "1")
	require.False(t, ok)
	b := m.Edit(seed)
	b.Set("a", "1", 1)
	b.Set("a", "2", 2)
	b.Set("b", "1", 3)
	b.Set("", "", 4)
	m1 := b.Commit()
	require.Equal(t, 4, m1.Len())
	for _, tc := range []struct {
		a, b string
		want int
	}{{"a", "1", 1}, {"a", "2", 2}, {"b", "1", 3}, {"", "", 4}} {
		v, ok := m1.Get(seed, tc.a, tc.b)
		require.True(t, ok, tc)
		require.Equal(t, tc.want, v)
	}
	b = m1.Edit(seed)
	b.Delete("b", "1")
	b.Delete("zz", "1")
	b.Set("a", "1", 10)
	m2 := b.Commit()
	require.Equal(t, 3, m2.Len())
	_, ok = m2.Get(seed, "b", "1")
	require.False(t, ok)
	v, _ := m1.Get(seed, "a", "1")
	require.Equal(t, 1, v, "base map unchanged")
	got := map[[2]string]int{}
	m2.Range(func(a, b string, v int) bool { got[[2]string{a, b}] = v; return true })
	if d := cmp.Diff(map[[2]string]int{{"a", "1"}: 10, {"a", "2"}: 2, {"", ""}: 4}, got); d != "" {
		t.Fatalf("Range (-want +got):\n%s", d)
	}
}
