package iam_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
)

// scPost is an application object whose ID is set only once it is saved.
type scPost struct{ id string }

func (p *scPost) ObjectRef() iam.Ref { return iam.Ref{Type: "blog.post", ID: p.id} }

type scUser struct {
	id    string
	super bool
}

func (u scUser) SubjectID() string { return u.id }
func (u scUser) IsSuperuser() bool { return u.super }

// TestRefScopes: an object Ref has a type and an ID; the type-level and
// global scopes are spelled by their constructors, and nothing else is
// valid. contract 7b
func TestRefScopes(t *testing.T) {
	type view struct {
		Valid, Object, Type, Global bool
		String                      string
	}
	tests := []struct {
		name string
		ref  iam.Ref
		want view
	}{
		{"object", iam.Ref{Type: "blog.post", ID: "1"}, view{Valid: true, Object: true, String: "blog.post:1"}},
		{"type scope", iam.TypeScope("blog.post"), view{Valid: true, Type: true, String: "blog.post:*"}},
		{"global scope", iam.GlobalScope(), view{Valid: true, Global: true, String: "*"}},
		{"object not saved yet", iam.Ref{Type: "blog.post"}, view{String: "invalid(blog.post:)"}},
		{"zero Ref", iam.Ref{}, view{String: ""}},
		{"ID without a type", iam.Ref{ID: "1"}, view{String: "invalid(:1)"}},
		{"type scope with an ID", func() iam.Ref { r := iam.TypeScope("blog.post"); r.ID = "1"; return r }(), view{String: "invalid(blog.post:1)"}},
		{"type scope without a type", iam.TypeScope(""), view{String: "invalid(:)"}},
		{"global scope with a type", func() iam.Ref { r := iam.GlobalScope(); r.Type = "blog.post"; return r }(), view{String: "invalid(blog.post:)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			isType := tc.ref.Valid() && tc.ref == iam.TypeScope(tc.ref.Type)
			got := view{tc.ref.Valid(), tc.ref.IsObject(), isType, tc.ref == iam.GlobalScope(), tc.ref.String()}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("%#v (-want +got):\n%s", tc.ref, diff)
			}
		})
	}
	// Scopes are not objects with empty fields, and the zero Ref is not global.
	require.NotEqual(t, iam.TypeScope("blog.post"), iam.Ref{Type: "blog.post"})
	require.NotEqual(t, iam.GlobalScope(), iam.Ref{})
	// StoredRef reads back what a store wrote as two columns.
	for _, r := range []iam.Ref{{Type: "blog.post", ID: "1"}, iam.TypeScope("blog.post"), iam.GlobalScope()} {
		require.Equal(t, r, iam.StoredRef(r.Type, r.ID), r.String())
		require.True(t, r.Equal(iam.StoredRef(r.Type, r.ID)))
	}
}

// TestUnsavedObjectIsNotItsType: the Ref of an object with no ID yet (a
// post not saved) is refused with ErrInvalid by every write path and by
// checks, and never becomes a grant on every object of the type, as it
// once did. An unset On is refused as well, not a global grant. contract 7b
func TestUnsavedObjectIsNotItsType(t *testing.T) {
	ctx := context.Background()
	editor := &iam.Role{Name: "blog.editor", Perms: []string{"blog.edit"}}
	admin := &iam.Role{Name: "blog.admin", Perms: []string{"blog.edit", iam.PermManageGrants}}
	store := iam.NewMemoryStore()
	c, err := iam.New(iam.Policy{Roles: []*iam.Role{editor, admin}}, store)
	require.NoError(t, err)
	require.NoError(t, c.AssignRole(ctx, iam.Profile{Holder: iam.User("boss"), Role: "blog.admin", Active: true}))
	m := iam.NewManager(c, iam.ManagerOptions{Logger: slog.New(slog.DiscardHandler)})
	draft := &scPost{} // not saved: no ID
	saved := &scPost{id: "7"}

	for _, on := range []iam.Ref{draft.ObjectRef(), {}} {
		for _, g := range []iam.Grant{
			{Holder: iam.User("ann"), Perm: "blog.edit", On: on},
			{Holder: iam.User("ann"), Role: "blog.editor", On: on},
		} {
			writes := map[string]error{
				"Checker.Grant":     c.Grant(ctx, g),
				"Checker.Revoke":    c.Revoke(ctx, g),
				"MemoryStore.Grant": store.Grant(ctx, g),
				"Manager.Grant":     m.Grant(ctx, scUser{id: "boss"}, g),
				"Checker.Apply":     c.Apply(ctx, iam.Change{Kind: iam.ChangeGrant, Grant: g}),
			}
			for name, err := range writes {
				require.ErrorIs(t, err, iam.ErrInvalid, "%s(%v)", name, g)
			}
			require.Contains(t, c.Grant(ctx, g).Error(), "iam.", "the error names the constructor to use")
		}
	}
	for _, obj := range []iam.Object{saved, &scPost{id: "8"}} {
		d, err := c.Check(ctx, scUser{id: "ann"}, "blog.edit", obj)
		require.NoError(t, err)
		require.False(t, d.Allowed, "ann may edit %v after refused grants on a draft: %v", obj.ObjectRef(), d)
	}
	// Checking a draft is bad input too, not a check on the type.
	_, err = c.Check(ctx, scUser{id: "boss"}, "blog.edit", draft)
	require.ErrorIs(t, err, iam.ErrInvalid)
	require.False(t, c.HasPerm(ctx, scUser{id: "boss"}, "blog.edit", draft))
	// A scope is not an object to check on.
	_, err = c.Check(ctx, scUser{id: "boss"}, "blog.edit", iam.TypeScope("blog.post"))
	require.ErrorIs(t, err, iam.ErrInvalid)

	// Spelled out, the scopes do what they say.
	require.NoError(t, c.Grant(ctx, iam.Grant{Holder: iam.User("ann"), Perm: "blog.edit", On: iam.TypeScope("blog.post")}))
	require.True(t, c.HasPerm(ctx, scUser{id: "ann"}, "blog.edit", saved))
	require.NoError(t, c.Grant(ctx, iam.Grant{Holder: iam.User("bea"), Role: "blog.editor", On: iam.GlobalScope()}))
	d, err := c.Check(ctx, scUser{id: "bea"}, "blog.edit", saved)
	require.NoError(t, err)
	require.True(t, d.Allowed)
	require.Equal(t, iam.GlobalScope(), d.On)
	require.True(t, errors.Is(c.Grant(ctx, iam.Grant{Holder: iam.User("ann"), Perm: "blog.edit", On: iam.Ref{ID: "7"}}), iam.ErrInvalid))
}

// TestRefJSON: a Ref written as JSON (in a stored Request, say) reads back
// as the same Ref: an object keeps the plain {"Type","ID"} form, the scopes
// carry their Scope, and an object with a missing ID stays invalid rather
// than becoming its type. contract 7b
func TestRefJSON(t *testing.T) {
	tests := []struct {
		ref  iam.Ref
		json string
	}{
		{iam.Ref{Type: "doc", ID: "1"}, `{"Type":"doc","ID":"1"}`},
		{iam.TypeScope("doc"), `{"Type":"doc","ID":"","Scope":"type"}`},
		{iam.GlobalScope(), `{"Type":"","ID":"","Scope":"global"}`},
		{iam.Ref{Type: "doc"}, `{"Type":"doc","ID":""}`},
	}
	for _, tc := range tests {
		b, err := json.Marshal(tc.ref)
		require.NoError(t, err)
		require.JSONEq(t, tc.json, string(b))
		var back iam.Ref
		require.NoError(t, json.Unmarshal(b, &back))
		require.Equal(t, tc.ref, back, tc.json)
	}
	var r iam.Ref
	require.ErrorIs(t, json.Unmarshal([]byte(`{"Type":"doc","Scope":"everything"}`), &r), iam.ErrInvalid)
	// Inside a Change, as a Request stores it.
	req := iam.Request{Change: iam.Change{Kind: iam.ChangeGrant, Grant: iam.Grant{Holder: iam.User("ann"), Perm: "doc.read", On: iam.TypeScope("doc")}}}
	b, err := json.Marshal(req)
	require.NoError(t, err)
	var back iam.Request
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, iam.TypeScope("doc"), back.Change.Grant.On)
}
