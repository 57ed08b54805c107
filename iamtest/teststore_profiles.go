package iamtest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
)

// Profiles and memberships: every read and write of iam.ProfileStore.

var (
	alice = iam.User("alice")
	bob   = iam.User("bob")
	staff = iam.Group("staff")
)

// profiles returns a holdingView with the given profiles and no groups.
func profiles(ps ...iam.Profile) holdingView { return holdingView{Profiles: ps} }

func (s *suite) testHoldingUnknownPrincipal(t *testing.T) {
	// Holding returns (nil, nil) or an empty Holding for a principal the
	// store knows nothing about, in an empty store and in one that holds
	// data for others.
	for _, populated := range []bool{false, true} {
		t.Run(fmt.Sprintf("populated=%v", populated), func(t *testing.T) {
			st := s.store(t)
			if populated {
				must(t, st.PutProfile(t.Context(), iam.Profile{Holder: alice, Role: roleEditor, Active: true}), "PutProfile")
				must(t, st.PutProfile(t.Context(), iam.Profile{Holder: staff, Role: roleViewer, Active: true}), "PutProfile")
				must(t, st.AddMember(t.Context(), "alice", "staff"), "AddMember")
			}
			for _, p := range []iam.Principal{iam.User("nobody"), iam.Group("nobody"), iam.User("staff"), iam.Group("alice"), iam.User("Alice")} {
				h, err := st.Holding(t.Context(), p)
				require.NoError(t, err, "Holding(%v)", p)
				require.Empty(t, h.Profiles(), "Holding(%v).Profiles()", p)
				require.Empty(t, h.Groups(), "Holding(%v).Groups()", p)
			}
		})
	}
}

func (s *suite) testPutProfileCreate(t *testing.T) {
	// Every field round-trips: ExpiresAt as an instant to the microsecond,
	// Data as JSON (nil and empty are both "no data").
	bigData := `{"items":[` + strings.TrimSuffix(strings.Repeat(`"0123456789abcdef",`, 1000), ",") + `]}`
	tests := []struct {
		name string
		p    iam.Profile
	}{
		{"active", iam.Profile{Holder: alice, Role: roleEditor, Active: true}},
		{"inactive", iam.Profile{Holder: alice, Role: roleEditor}},
		{"group holder", iam.Profile{Holder: staff, Role: roleViewer, Active: true}},
		{"expires UTC with nanoseconds", iam.Profile{Holder: alice, Role: roleEditor, Active: true,
			ExpiresAt: time.Date(2031, 5, 6, 7, 8, 9, 123456789, time.UTC)}},
		{"expires exact microsecond", iam.Profile{Holder: alice, Role: roleEditor, Active: true,
			ExpiresAt: time.Date(2031, 5, 6, 7, 8, 9, 123456000, time.UTC)}},
		{"expires in another zone", iam.Profile{Holder: alice, Role: roleEditor, Active: true,
			ExpiresAt: time.Date(2030, 1, 1, 0, 30, 0, 999, time.FixedZone("UTC+05:30", 5*3600+1800))}},
		{"expires in a negative zone", iam.Profile{Holder: alice, Role: roleEditor, Active: true,
			ExpiresAt: time.Date(2029, 12, 31, 23, 59, 59, 999999000, time.FixedZone("UTC-08", -8*3600))}},
		{"expired", iam.Profile{Holder: alice, Role: roleEditor, Active: true,
			ExpiresAt: time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)}},
		{"far future", iam.Profile{Holder: alice, Role: roleEditor, Active: true,
			ExpiresAt: time.Date(2199, 12, 31, 23, 59, 59, 999999000, time.UTC)}},
		{"nil data", iam.Profile{Holder: alice, Role: roleEditor, Active: true, Data: nil}},
		{"empty data", iam.Profile{Holder: alice, Role: roleEditor, Active: true, Data: []byte{}}},
		{"JSON object", iam.Profile{Holder: alice, Role: roleEditor, Active: true,
			Data: []byte(`{"dept":"cardiology","licence":"GMC-123","n":3}`)}},
		{"JSON with escapes and unicode", iam.Profile{Holder: alice, Role: roleEditor, Active: true,
			Data: []byte(`{"dept":"心臓 Ünïcødé 🎉","note":"a\"b\\c\nd\t'e'","n":1.5,"tags":["x","y"],"nested":{"ok":true,"none":null}}`)}},
		{"JSON array", iam.Profile{Holder: alice, Role: roleEditor, Active: true, Data: []byte(`[1,"two",null,false]`)}},
		{"JSON string", iam.Profile{Holder: alice, Role: roleEditor, Active: true, Data: []byte(`"just a string"`)}},
		{"JSON 19KB", iam.Profile{Holder: alice, Role: roleEditor, Active: true, Data: []byte(bigData)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := s.store(t)
			must(t, st.PutProfile(t.Context(), tt.p), "PutProfile(%+v)", tt.p)
			requireHolding(t, st, tt.p.Holder, profiles(tt.p))
			h, err := st.Holding(t.Context(), tt.p.Holder)
			require.NoError(t, err)
			got, ok := h.Profile(tt.p.Role)
			require.True(t, ok, "Holding.Profile(%q)", tt.p.Role)
			if !tt.p.ExpiresAt.IsZero() {
				// At least microsecond precision, whatever the location.
				want := tt.p.ExpiresAt.UTC().Truncate(time.Microsecond)
				gotT := got.ExpiresAt.UTC().Truncate(time.Microsecond)
				require.True(t, sameInstant(want, gotT), "ExpiresAt: want %v, got %v", want, gotT)
			}
		})
	}
}

func (s *suite) testPutProfileReplace(t *testing.T) {
	st := s.store(t)
	exp := time.Date(2035, 1, 2, 3, 4, 5, 6000, time.UTC)
	first := iam.Profile{Holder: alice, Role: roleEditor, Active: true, ExpiresAt: exp, Data: []byte(`{"v":1}`)}
	other := iam.Profile{Holder: alice, Role: roleViewer, Active: true, Data: []byte(`{"keep":true}`)}
	must(t, st.PutProfile(t.Context(), first), "PutProfile")
	must(t, st.PutProfile(t.Context(), other), "PutProfile")
	must(t, st.AddMember(t.Context(), "alice", "staff"), "AddMember")

	// Every field is replaced, including back to zero values.
	second := iam.Profile{Holder: alice, Role: roleEditor}
	must(t, st.PutProfile(t.Context(), second), "PutProfile replace")
	requireHolding(t, st, alice, holdingView{Profiles: []iam.Profile{second, other}, Groups: []string{"staff"}})

	third := iam.Profile{Holder: alice, Role: roleEditor, Active: true, ExpiresAt: exp.Add(time.Hour), Data: []byte(`{"v":3}`)}
	must(t, st.PutProfile(t.Context(), third), "PutProfile replace")
	requireHolding(t, st, alice, holdingView{Profiles: []iam.Profile{third, other}, Groups: []string{"staff"}})

	// Putting the same profile again is a no-op.
	must(t, st.PutProfile(t.Context(), third), "PutProfile again")
	requireHolding(t, st, alice, holdingView{Profiles: []iam.Profile{third, other}, Groups: []string{"staff"}})
}

func (s *suite) testPutProfileKeys(t *testing.T) {
	// A profile is keyed by (holder kind, holder ID, role): none of these
	// overwrite another.
	st := s.store(t)
	ps := []iam.Profile{
		{Holder: alice, Role: roleViewer, Active: true, Data: []byte(`{"who":"alice viewer"}`)},
		{Holder: alice, Role: roleEditor, Active: false, Data: []byte(`{"who":"alice editor"}`)},
		{Holder: bob, Role: roleViewer, Active: true, Data: []byte(`{"who":"bob viewer"}`)},
		{Holder: iam.Group("alice"), Role: roleViewer, Active: false, Data: []byte(`{"who":"group alice viewer"}`)},
		{Holder: staff, Role: roleAdmin, Active: true},
	}
	for _, p := range ps {
		must(t, st.PutProfile(t.Context(), p), "PutProfile(%+v)", p)
	}
	requireHolding(t, st, alice, profiles(ps[1], ps[0])) // sorted by role
	requireHolding(t, st, bob, profiles(ps[2]))
	requireHolding(t, st, iam.Group("alice"), profiles(ps[3]))
	requireHolding(t, st, staff, profiles(ps[4]))
	requireNoHolding(t, st, iam.User("staff"))
}

func (s *suite) testSetProfileActive(t *testing.T) {
	for _, holder := range []iam.Principal{alice, staff} {
		t.Run(holder.Kind.String(), func(t *testing.T) {
			st := s.store(t)
			exp := time.Date(2040, 6, 7, 8, 9, 10, 11000, time.UTC)
			p := iam.Profile{Holder: holder, Role: roleEditor, Active: true, ExpiresAt: exp, Data: []byte(`{"d":"x"}`)}
			other := iam.Profile{Holder: holder, Role: roleViewer, Active: true}
			bobs := iam.Profile{Holder: bob, Role: roleEditor, Active: true}
			for _, q := range []iam.Profile{p, other, bobs} {
				must(t, st.PutProfile(t.Context(), q), "PutProfile")
			}
			for _, active := range []bool{false, false, true, true, false} {
				must(t, st.SetProfileActive(t.Context(), holder, roleEditor, active), "SetProfileActive(%v)", active)
				// Only Active changes; the other fields and profiles stay.
				want := p
				want.Active = active
				requireHolding(t, st, holder, profiles(want, other))
				requireHolding(t, st, bob, profiles(bobs))
			}
		})
	}
}

func (s *suite) testSetProfileActiveNotFound(t *testing.T) {
	// A missing profile is an error wrapping iam.ErrNotFound, and nothing
	// changes.
	tests := []struct {
		name   string
		setup  func(t *testing.T, st iam.Store)
		holder iam.Principal
		role   string
	}{
		{"unknown holder", nil, alice, roleEditor},
		{"unknown group", nil, staff, roleEditor},
		{"member without profiles", func(t *testing.T, st iam.Store) {
			must(t, st.AddMember(t.Context(), "alice", "staff"), "AddMember")
		}, alice, roleEditor},
		{"other role", func(t *testing.T, st iam.Store) {
			must(t, st.PutProfile(t.Context(), iam.Profile{Holder: alice, Role: roleViewer}), "PutProfile")
		}, alice, roleEditor},
		{"role differs in case", func(t *testing.T, st iam.Store) {
			must(t, st.PutProfile(t.Context(), iam.Profile{Holder: alice, Role: "doc.Editor"}), "PutProfile")
		}, alice, "doc.editor"},
		{"deleted profile", func(t *testing.T, st iam.Store) {
			must(t, st.PutProfile(t.Context(), iam.Profile{Holder: alice, Role: roleEditor}), "PutProfile")
			must(t, st.DeleteProfile(t.Context(), alice, roleEditor), "DeleteProfile")
		}, alice, roleEditor},
		{"group of the same name holds it", func(t *testing.T, st iam.Store) {
			must(t, st.PutProfile(t.Context(), iam.Profile{Holder: iam.Group("alice"), Role: roleEditor}), "PutProfile")
		}, alice, roleEditor},
		{"user of the same name holds it", func(t *testing.T, st iam.Store) {
			must(t, st.PutProfile(t.Context(), iam.Profile{Holder: iam.User("staff"), Role: roleEditor}), "PutProfile")
		}, staff, roleEditor},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := s.store(t)
			if tt.setup != nil {
				tt.setup(t, st)
			}
			watch := []iam.Principal{tt.holder, iam.User(tt.holder.ID), iam.Group(tt.holder.ID)}
			before := make([]holdingView, len(watch))
			for i, p := range watch {
				before[i] = holding(t, st, p)
			}
			for _, active := range []bool{true, false} {
				err := st.SetProfileActive(t.Context(), tt.holder, tt.role, active)
				require.Error(t, err, "SetProfileActive(%v, %q, %v) on a missing profile", tt.holder, tt.role, active)
				require.True(t, errors.Is(err, iam.ErrNotFound), "error %q does not wrap iam.ErrNotFound", err)
			}
			for i, p := range watch {
				requireHolding(t, st, p, before[i])
			}
		})
	}
}

func (s *suite) testDeleteProfile(t *testing.T) {
	st := s.store(t)
	viewer := iam.Profile{Holder: alice, Role: roleViewer, Active: true}
	editor := iam.Profile{Holder: alice, Role: roleEditor, Active: true, Data: []byte(`{"x":1}`)}
	bobs := iam.Profile{Holder: bob, Role: roleEditor, Active: true}
	groups := iam.Profile{Holder: iam.Group("alice"), Role: roleEditor, Active: true}
	for _, p := range []iam.Profile{viewer, editor, bobs, groups} {
		must(t, st.PutProfile(t.Context(), p), "PutProfile")
	}
	must(t, st.AddMember(t.Context(), "alice", "staff"), "AddMember")

	must(t, st.DeleteProfile(t.Context(), alice, roleEditor), "DeleteProfile")
	requireHolding(t, st, alice, holdingView{Profiles: []iam.Profile{viewer}, Groups: []string{"staff"}})
	requireHolding(t, st, bob, profiles(bobs))
	requireHolding(t, st, iam.Group("alice"), profiles(groups))

	// Deleting the same profile again is not an error.
	must(t, st.DeleteProfile(t.Context(), alice, roleEditor), "DeleteProfile again")

	must(t, st.DeleteProfile(t.Context(), alice, roleViewer), "DeleteProfile")
	requireHolding(t, st, alice, holdingView{Groups: []string{"staff"}})

	// A deleted profile can be created again.
	must(t, st.PutProfile(t.Context(), editor), "PutProfile after delete")
	requireHolding(t, st, alice, holdingView{Profiles: []iam.Profile{editor}, Groups: []string{"staff"}})

	must(t, st.DeleteProfile(t.Context(), alice, roleEditor), "DeleteProfile")
	must(t, st.RemoveMember(t.Context(), "alice", "staff"), "RemoveMember")
	requireNoHolding(t, st, alice)
	requireHolding(t, st, bob, profiles(bobs))
	requireHolding(t, st, iam.Group("alice"), profiles(groups))
}

func (s *suite) testDeleteProfileMissing(t *testing.T) {
	// Deleting a profile that does not exist is not an error and changes
	// nothing.
	st := s.store(t)
	kept := []iam.Profile{
		{Holder: alice, Role: roleViewer, Active: true},
		{Holder: iam.Group("bob"), Role: roleEditor, Active: true},
	}
	for _, p := range kept {
		must(t, st.PutProfile(t.Context(), p), "PutProfile")
	}
	for _, d := range []struct {
		holder iam.Principal
		role   string
	}{
		{iam.User("nobody"), roleViewer},
		{alice, roleEditor},
		{alice, "doc.Viewer"},
		{iam.Group("alice"), roleViewer},
		{bob, roleEditor},
		{staff, roleViewer},
	} {
		must(t, st.DeleteProfile(t.Context(), d.holder, d.role), "DeleteProfile(%v, %q)", d.holder, d.role)
	}
	requireHolding(t, st, alice, profiles(kept[0]))
	requireHolding(t, st, iam.Group("bob"), profiles(kept[1]))
	requireNoHolding(t, st, iam.User("nobody"))
	requireNoHolding(t, st, bob)
}

func (s *suite) testMembership(t *testing.T) {
	// AddMember and RemoveMember are idempotent; Holding(User).Groups()
	// lists the user's groups (in no particular order).
	st := s.store(t)
	must(t, st.AddMember(t.Context(), "alice", "staff"), "AddMember")
	must(t, st.AddMember(t.Context(), "alice", "ops"), "AddMember")
	must(t, st.AddMember(t.Context(), "alice", "staff"), "AddMember again")
	must(t, st.AddMember(t.Context(), "bob", "staff"), "AddMember")
	requireHolding(t, st, alice, holdingView{Groups: []string{"ops", "staff"}})
	requireHolding(t, st, bob, holdingView{Groups: []string{"staff"}})
	// A membership is not a holding of the group.
	requireNoHolding(t, st, staff)
	requireNoHolding(t, st, iam.Group("ops"))

	must(t, st.RemoveMember(t.Context(), "alice", "staff"), "RemoveMember")
	must(t, st.RemoveMember(t.Context(), "alice", "staff"), "RemoveMember again")
	must(t, st.RemoveMember(t.Context(), "alice", "never"), "RemoveMember of a group never joined")
	must(t, st.RemoveMember(t.Context(), "nobody", "staff"), "RemoveMember of an unknown user")
	requireHolding(t, st, alice, holdingView{Groups: []string{"ops"}})
	requireHolding(t, st, bob, holdingView{Groups: []string{"staff"}})

	must(t, st.RemoveMember(t.Context(), "alice", "ops"), "RemoveMember")
	requireNoHolding(t, st, alice)

	// Many groups, added in an unsorted order.
	var want []string
	for i := range 25 {
		g := fmt.Sprintf("g%02d", (i*7)%25)
		must(t, st.AddMember(t.Context(), "alice", g), "AddMember")
		want = append(want, fmt.Sprintf("g%02d", i))
	}
	requireHolding(t, st, alice, holdingView{Groups: want})
	requireHolding(t, st, bob, holdingView{Groups: []string{"staff"}})
}

func (s *suite) testMembershipAndProfilesIndependent(t *testing.T) {
	// Profile writes keep memberships; membership writes keep profiles.
	st := s.store(t)
	p := iam.Profile{Holder: alice, Role: roleEditor, Active: true, Data: []byte(`{"a":1}`)}
	must(t, st.AddMember(t.Context(), "alice", "staff"), "AddMember")
	must(t, st.PutProfile(t.Context(), p), "PutProfile")
	requireHolding(t, st, alice, holdingView{Profiles: []iam.Profile{p}, Groups: []string{"staff"}})

	must(t, st.SetProfileActive(t.Context(), alice, roleEditor, false), "SetProfileActive")
	p.Active = false
	requireHolding(t, st, alice, holdingView{Profiles: []iam.Profile{p}, Groups: []string{"staff"}})

	p.Data = []byte(`{"a":2}`)
	must(t, st.PutProfile(t.Context(), p), "PutProfile replace")
	requireHolding(t, st, alice, holdingView{Profiles: []iam.Profile{p}, Groups: []string{"staff"}})

	must(t, st.RemoveMember(t.Context(), "alice", "staff"), "RemoveMember")
	requireHolding(t, st, alice, profiles(p))

	must(t, st.AddMember(t.Context(), "alice", "ops"), "AddMember")
	requireHolding(t, st, alice, holdingView{Profiles: []iam.Profile{p}, Groups: []string{"ops"}})

	must(t, st.DeleteProfile(t.Context(), alice, roleEditor), "DeleteProfile")
	requireHolding(t, st, alice, holdingView{Groups: []string{"ops"}})
}

func (s *suite) testGroupHolding(t *testing.T) {
	// A group holds profiles (group roles) like a user; it has no groups.
	st := s.store(t)
	editor := iam.Profile{Holder: staff, Role: roleEditor, Active: true, Data: []byte(`{"floor":3}`)}
	viewer := iam.Profile{Holder: staff, Role: roleViewer}
	must(t, st.PutProfile(t.Context(), editor), "PutProfile")
	must(t, st.PutProfile(t.Context(), viewer), "PutProfile")
	must(t, st.AddMember(t.Context(), "alice", "staff"), "AddMember")
	requireHolding(t, st, staff, profiles(editor, viewer))
	requireHolding(t, st, alice, holdingView{Groups: []string{"staff"}})

	must(t, st.SetProfileActive(t.Context(), staff, roleViewer, true), "SetProfileActive")
	viewer.Active = true
	requireHolding(t, st, staff, profiles(editor, viewer))

	must(t, st.DeleteProfile(t.Context(), staff, roleEditor), "DeleteProfile")
	requireHolding(t, st, staff, profiles(viewer))
	requireHolding(t, st, alice, holdingView{Groups: []string{"staff"}})
}

func (s *suite) testUserAndGroupDistinct(t *testing.T) {
	// User("x") and Group("x") are different principals.
	st := s.store(t)
	u := iam.Profile{Holder: iam.User("x"), Role: roleEditor, Active: true, Data: []byte(`{"k":"user"}`)}
	g := iam.Profile{Holder: iam.Group("x"), Role: roleEditor, Active: true, Data: []byte(`{"k":"group"}`)}
	must(t, st.PutProfile(t.Context(), u), "PutProfile")
	requireNoHolding(t, st, iam.Group("x"))
	must(t, st.PutProfile(t.Context(), g), "PutProfile")
	requireHolding(t, st, iam.User("x"), profiles(u))
	requireHolding(t, st, iam.Group("x"), profiles(g))

	must(t, st.SetProfileActive(t.Context(), iam.Group("x"), roleEditor, false), "SetProfileActive")
	g.Active = false
	requireHolding(t, st, iam.User("x"), profiles(u))
	requireHolding(t, st, iam.Group("x"), profiles(g))

	// User x in group x: the group has no groups.
	must(t, st.AddMember(t.Context(), "x", "x"), "AddMember")
	requireHolding(t, st, iam.User("x"), holdingView{Profiles: []iam.Profile{u}, Groups: []string{"x"}})
	requireHolding(t, st, iam.Group("x"), profiles(g))

	must(t, st.DeleteProfile(t.Context(), iam.User("x"), roleEditor), "DeleteProfile")
	requireHolding(t, st, iam.User("x"), holdingView{Groups: []string{"x"}})
	requireHolding(t, st, iam.Group("x"), profiles(g))
}

func (s *suite) testHoldingIsSnapshot(t *testing.T) {
	// A Holding is immutable once returned: later writes do not change it
	// (the Checker caches its compiled form on it).
	st := s.store(t)
	p := iam.Profile{Holder: alice, Role: roleEditor, Active: true, Data: []byte(`{"v":1}`)}
	must(t, st.PutProfile(t.Context(), p), "PutProfile")
	must(t, st.AddMember(t.Context(), "alice", "staff"), "AddMember")
	h, err := st.Holding(t.Context(), alice)
	require.NoError(t, err)
	want := holdingView{Profiles: []iam.Profile{p}, Groups: []string{"staff"}}
	requireDiff(t, want, viewHolding(h), "Holding before writes")

	must(t, st.PutProfile(t.Context(), iam.Profile{Holder: alice, Role: roleEditor, Data: []byte(`{"v":2}`)}), "PutProfile")
	must(t, st.PutProfile(t.Context(), iam.Profile{Holder: alice, Role: roleViewer}), "PutProfile")
	must(t, st.SetProfileActive(t.Context(), alice, roleViewer, true), "SetProfileActive")
	must(t, st.AddMember(t.Context(), "alice", "ops"), "AddMember")
	must(t, st.RemoveMember(t.Context(), "alice", "staff"), "RemoveMember")
	must(t, st.DeleteProfile(t.Context(), alice, roleEditor), "DeleteProfile")
	requireDiff(t, want, viewHolding(h), "Holding returned before the writes")
}
