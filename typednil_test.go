package iam_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
)

type tnUser struct{ id string }

func (u *tnUser) SubjectID() string { return u.id }

type tnDoc struct{ id string }

func (d *tnDoc) ObjectRef() iam.Ref { return iam.Ref{Type: "doc", ID: d.id} }

type tnPanicRef struct{}

func (tnPanicRef) ObjectRef() iam.Ref { panic("ObjectRef failed") }

// TestTypedNilIsInvalid: a typed-nil subject or object ((*User)(nil) in
// the interface) is bad input: a denial with ErrInvalid that says which
// argument, not ErrPanic; HasPerm and Explain deny as well. contract 2
func TestTypedNilIsInvalid(t *testing.T) {
	ctx := context.Background()
	c, err := iam.New(iam.Policy{
		Roles: []*iam.Role{{Name: "reader", Perms: []string{"doc.read"}}},
		Rules: map[string]iam.Predicate{"doc.edit": iam.Pred("owner", func(_ context.Context, u *tnUser, d *tnDoc) bool {
			return d != nil && d.id == u.id
		})},
	}, iam.NewMemoryStore())
	require.NoError(t, err)
	var nilUser *tnUser
	var nilDoc *tnDoc
	tests := []struct {
		name   string
		s      iam.Subject
		obj    iam.Object
		perm   string
		naming string
	}{
		{"nil subject, model level", nilUser, nil, "doc.read", "subject"},
		{"nil subject, object", nilUser, &tnDoc{id: "1"}, "doc.read", "subject"},
		{"nil object", &tnUser{id: "u"}, nilDoc, "doc.read", "object"},
		{"nil object, rule", &tnUser{id: "u"}, nilDoc, "doc.edit", "object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := c.Check(ctx, tc.s, tc.perm, tc.obj)
			require.ErrorIs(t, err, iam.ErrInvalid)
			require.NotErrorIs(t, err, iam.ErrPanic)
			require.Contains(t, err.Error(), "the "+tc.naming+" is a nil")
			require.False(t, d.Allowed)
			require.False(t, c.HasPerm(ctx, tc.s, tc.perm, tc.obj))
			_, err = c.Explain(ctx, tc.s, tc.perm, tc.obj)
			require.ErrorIs(t, err, iam.ErrInvalid)
		})
	}
	// The queries too: ErrInvalid naming the argument, never a panic that
	// escapes.
	queries := []struct {
		name   string
		run    func() error
		naming string
	}{
		{"Perms, nil object", func() error { _, err := c.Perms(ctx, &tnUser{id: "u"}, nilDoc); return err }, "object"},
		{"Perms, nil subject", func() error { _, err := c.Perms(ctx, nilUser, &tnDoc{id: "1"}); return err }, "subject"},
		{"ListObjects, nil subject", func() error {
			_, err := c.ListObjects(ctx, nilUser, "doc.read", "doc", iam.ListOptions{})
			return err
		}, "subject"},
		{"AccessPlan, nil subject", func() error { _, err := c.AccessPlan(ctx, nilUser, "doc.read", "doc"); return err }, "subject"},
		{"Holders, nil object", func() error { _, err := c.Holders(ctx, nilDoc, iam.HoldersOptions{}); return err }, "object"},
	}
	for _, q := range queries {
		t.Run(q.name, func(t *testing.T) {
			var err error
			require.NotPanics(t, func() { err = q.run() })
			require.ErrorIs(t, err, iam.ErrInvalid)
			require.NotErrorIs(t, err, iam.ErrPanic)
			require.Contains(t, err.Error(), "the "+q.naming+" is a nil")
		})
	}
	// An object whose ObjectRef panics fails Perms with ErrPanic, as it
	// fails a check.
	var perr error
	require.NotPanics(t, func() { _, perr = c.Perms(ctx, &tnUser{id: "u"}, tnPanicRef{}) })
	require.ErrorIs(t, perr, iam.ErrPanic)
	_, perr = c.Check(ctx, &tnUser{id: "u"}, "doc.read", tnPanicRef{})
	require.ErrorIs(t, perr, iam.ErrPanic)

	// A predicate that panics on its own is still ErrPanic.
	boom, err := iam.New(iam.Policy{Rules: map[string]iam.Predicate{"x": iam.Pred("boom", func(context.Context, *tnUser, *tnDoc) bool { panic("boom") })}}, iam.NewMemoryStore())
	require.NoError(t, err)
	_, err = boom.Check(ctx, &tnUser{id: "u"}, "x", &tnDoc{id: "1"})
	require.ErrorIs(t, err, iam.ErrPanic)
}

// nilSafeUser and nilSafeDoc tolerate a nil receiver: their methods never
// panic, so only looking at the value itself tells a typed nil.
type nilSafeUser struct{ id string }

func (u *nilSafeUser) SubjectID() string {
	if u == nil {
		return ""
	}
	return u.id
}

type nilSafeDoc struct{ id string }

func (d *nilSafeDoc) ObjectRef() iam.Ref {
	if d == nil {
		return iam.Ref{Type: "doc", ID: "0"}
	}
	return iam.Ref{Type: "doc", ID: d.id}
}

// TestTypedNilWithoutPanic: a typed nil is refused as invalid even when its
// methods answer (a nil *User would otherwise be checked as an anonymous
// visitor, a nil *Doc as the Ref it returns), by every entry point that
// takes a subject or an object. contract 2
func TestTypedNilWithoutPanic(t *testing.T) {
	ctx := context.Background()
	store := iam.NewMemoryStore()
	c, err := iam.New(iam.Policy{
		Roles: []*iam.Role{{Name: "reader", Perms: []string{"doc.read"}}},
		Rules: map[string]iam.Predicate{"pub.read": iam.Always()},
	}, store)
	require.NoError(t, err)
	require.NoError(t, store.Grant(ctx, iam.Grant{Holder: iam.User("u1"), Role: "reader", On: iam.Ref{Type: "doc", ID: "0"}}))
	var nilUser *nilSafeUser
	var nilDoc *nilSafeDoc
	u1 := &nilSafeUser{id: "u1"}
	calls := []struct {
		name string
		call func() error
	}{
		{"Check subject", func() error { _, err := c.Check(ctx, nilUser, "pub.read", nil); return err }},
		{"Check object", func() error { _, err := c.Check(ctx, u1, "doc.read", nilDoc); return err }},
		{"Decide subject", func() error { _, err := c.Decide(ctx, nilUser, "pub.read", nil); return err }},
		{"Explain object", func() error { _, err := c.Explain(ctx, u1, "doc.read", nilDoc); return err }},
		{"Require subject", func() error { return c.Require(ctx, nilUser, "pub.read", nil) }},
		{"Perms object", func() error { _, err := c.Perms(ctx, u1, nilDoc); return err }},
		{"AccessPlan subject", func() error { _, err := c.AccessPlan(ctx, nilUser, "pub.read", "doc"); return err }},
		{"ListObjects subject", func() error {
			_, err := c.ListObjects(ctx, nilUser, "doc.read", "doc", iam.ListOptions{})
			return err
		}},
		{"Holders object", func() error { _, err := c.Holders(ctx, nilDoc, iam.HoldersOptions{}); return err }},
	}
	for _, tc := range calls {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorIs(t, tc.call(), iam.ErrInvalid)
		})
	}
	require.False(t, c.HasPerm(ctx, nilUser, "pub.read", nil))
	require.False(t, c.HasPerm(ctx, u1, "doc.read", nilDoc))
	require.False(t, c.HasPerms(ctx, nilUser, []string{"pub.read"}, nil))
	require.True(t, c.HasPerm(ctx, u1, "doc.read", &nilSafeDoc{id: "0"}), "a real object still works")
}
