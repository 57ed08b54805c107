package iam_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
)

// TestProfileLive: a profile grants its role while it is Active and not
// past ExpiresAt; the zero ExpiresAt never expires. contract 4
func TestProfileLive(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		p    iam.Profile
		want bool
	}{
		{"active, no expiry", iam.Profile{Active: true}, true},
		{"inactive", iam.Profile{}, false},
		{"expires later", iam.Profile{Active: true, ExpiresAt: now.Add(time.Second)}, true},
		{"expires now", iam.Profile{Active: true, ExpiresAt: now}, false},
		{"expired", iam.Profile{Active: true, ExpiresAt: now.Add(-time.Hour)}, false},
		{"inactive, expires later", iam.Profile{ExpiresAt: now.Add(time.Hour)}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.p.Live(now))
		})
	}
}

// TestProfileData: a profile's JSON data decodes into the caller's type;
// empty data is the zero value, bad data an error naming the profile.
func TestProfileData(t *testing.T) {
	type editor struct{ Sections []string }
	p := iam.Profile{Holder: iam.User("erin"), Role: "editor", Data: []byte(`{"Sections":["tech","go"]}`)}
	got, err := iam.ProfileData[editor](p)
	require.NoError(t, err)
	if diff := cmp.Diff(editor{Sections: []string{"tech", "go"}}, got); diff != "" {
		t.Fatalf("data (-want +got):\n%s", diff)
	}
	zero, err := iam.ProfileData[editor](iam.Profile{})
	require.NoError(t, err)
	require.Zero(t, zero)
	_, err = iam.ProfileData[editor](iam.Profile{Holder: iam.User("erin"), Role: "editor", Data: []byte(`{`)})
	require.ErrorContains(t, err, "user:erin")
}

// TestHolding: a Holding is a snapshot: it copies what it is built from,
// and a nil Holding holds nothing.
func TestHolding(t *testing.T) {
	profiles := []iam.Profile{{Holder: iam.User("ann"), Role: "reader", Active: true}}
	groups := []string{"staff"}
	h := iam.NewHolding(profiles, groups)
	profiles[0].Role, groups[0] = "changed", "changed"
	require.Equal(t, "reader", h.Profiles()[0].Role)
	require.Equal(t, []string{"staff"}, h.Groups())
	p, ok := h.Profile("reader")
	require.True(t, ok)
	require.True(t, p.Active)
	_, ok = h.Profile("writer")
	require.False(t, ok)
	var none *iam.Holding
	require.Empty(t, none.Profiles())
	require.Empty(t, none.Groups())
}

// TestPrincipals: users and groups are distinct principals, printed with
// their kind; an empty ID is not a valid one.
func TestPrincipals(t *testing.T) {
	require.NotEqual(t, iam.User("ops"), iam.Group("ops"))
	require.Equal(t, "user:ann", iam.User("ann").String())
	require.Equal(t, "group:staff", iam.Group("staff").String())
	require.True(t, iam.User("ann").Valid())
	require.False(t, iam.User("").Valid())
	require.False(t, iam.Group("").Valid())
	require.False(t, iam.Principal{}.Valid())
}

// TestProfileLifecycle: the role is held from the write that makes the
// profile live until the one that ends it, and not while it is switched
// off. contract 4, contract 15
func TestProfileLifecycle(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	c, err := iam.NewWithOptions(iam.Policy{Roles: []*iam.Role{{Name: "reader", Perms: []string{"doc.read"}}}},
		iam.NewMemoryStore(), iam.Options{Now: func() time.Time { return now }})
	require.NoError(t, err)
	ann := &anUser{id: "ann"}
	steps := []struct {
		name string
		do   func() error
		want bool
	}{
		{"assigned", func() error {
			return c.AssignRole(ctx, iam.Profile{Holder: iam.User("ann"), Role: "reader", Active: true})
		}, true},
		{"switched off", func() error { return c.SetRoleActive(ctx, iam.User("ann"), "reader", false) }, false},
		{"switched on", func() error { return c.SetRoleActive(ctx, iam.User("ann"), "reader", true) }, true},
		{"given an expiry", func() error {
			return c.AssignRole(ctx, iam.Profile{Holder: iam.User("ann"), Role: "reader", Active: true, ExpiresAt: now.Add(time.Hour)})
		}, true},
		{"an hour later", func() error { now = now.Add(time.Hour); return nil }, false},
		{"renewed", func() error {
			return c.AssignRole(ctx, iam.Profile{Holder: iam.User("ann"), Role: "reader", Active: true})
		}, true},
		{"removed", func() error { return c.RemoveRole(ctx, iam.User("ann"), "reader") }, false},
	}
	for _, st := range steps {
		require.NoError(t, st.do(), st.name)
		require.Equal(t, st.want, c.HasPerm(ctx, ann, "doc.read", nil), st.name)
	}
}
