package iamsql

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamcache"
)

func TestPayloadRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		keys []iamcache.Key
		all  bool // expect "drop everything"
	}{
		{name: "holding", keys: []iamcache.Key{iamcache.HoldingKey(iam.User("ann"))}},
		{name: "group holding", keys: []iamcache.Key{iamcache.HoldingKey(iam.Group("a:b/$$'\""))}},
		{name: "grants and parents", keys: []iamcache.Key{
			iamcache.GrantsKey(iam.Ref{Type: "doc", ID: "渡辺"}), iamcache.GrantsKey(iam.TypeScope("doc")),
			iamcache.GrantsKey(iam.GlobalScope()), iamcache.ParentsKey(iam.Ref{Type: "a:b", ID: "c"})}},
		{name: "too big", keys: []iamcache.Key{iamcache.GrantsKey(iam.Ref{Type: "doc", ID: strings.Repeat("x", maxPayload)})}, all: true},
		{name: "invalid UTF-8", keys: []iamcache.Key{iamcache.HoldingKey(iam.User("a\xff"))}, all: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := encodeKeys(tt.keys)
			if len(p) > maxPayload {
				t.Fatalf("payload of %d bytes", len(p))
			}
			got, ok := decodeKeys(p)
			if ok == tt.all {
				t.Fatalf("decodeKeys(%q) ok = %v", p, ok)
			}
			if tt.all {
				return
			}
			if diff := cmp.Diff(tt.keys, got); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
		})
	}
	for _, bad := range []string{"*", "", "{", `[{"k":9}]`} {
		if _, ok := decodeKeys(bad); ok {
			t.Errorf("decodeKeys(%q) = ok; want drop everything", bad)
		}
	}
}
