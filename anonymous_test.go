package iam_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
)

// anVisitor is a visitor as an HTTP layer makes one: not the
// application's user type, no ID.
type anVisitor struct{ super bool }

func (anVisitor) SubjectID() string   { return "" }
func (v anVisitor) IsSuperuser() bool { return v.super }

type anUser struct {
	id    string
	super bool
}

func (u *anUser) SubjectID() string { return u.id }
func (u *anUser) IsSuperuser() bool { return u.super }

type anPost struct {
	id, owner string
	public    bool
}

func (p *anPost) ObjectRef() iam.Ref { return iam.Ref{Type: "post", ID: p.id} }

// TestAnonymousSubjects: an anonymous subject (SubjectID "") is never a
// superuser, whatever it says, and reaches a predicate typed on the
// application's user type as that type's zero value, so rules decide for
// visitors instead of failing with ErrWrongType. contract 2, contract 6,
// contract 11
func TestAnonymousSubjects(t *testing.T) {
	ctx := context.Background()
	var sawNil bool
	isOwner := iam.Pred("is_owner", func(_ context.Context, u *anUser, p *anPost) bool {
		if u == nil {
			sawNil = true
			return false
		}
		return p != nil && p.owner != "" && p.owner == u.id
	})
	isPublic := iam.Pred("is_public", func(_ context.Context, u *anUser, p *anPost) bool { return p != nil && p.public })
	c, err := iam.New(iam.Policy{
		Perms: []iam.Perm{{Name: "post.view"}, {Name: "post.edit"}, {Name: "post.delete"}},
		Rules: map[string]iam.Predicate{"post.view": iam.Or(isPublic, isOwner), "post.edit": isOwner},
	}, iam.NewMemoryStore())
	require.NoError(t, err)
	public, private, orphan := &anPost{id: "1", public: true}, &anPost{id: "2", owner: "ann"}, &anPost{id: "3"}
	tests := []struct {
		name   string
		s      iam.Subject
		perm   string
		obj    iam.Object
		allow  bool
		reason iam.Reason
	}{
		{"visitor views a public post", anVisitor{}, "post.view", public, true, iam.ReasonRule},
		{"visitor views a private post", anVisitor{}, "post.view", private, false, iam.ReasonNone},
		{"visitor edits an orphan post", anVisitor{}, "post.edit", orphan, false, iam.ReasonNone},
		{"visitor claiming superuser", anVisitor{super: true}, "post.delete", private, false, iam.ReasonNone},
		{"empty-ID user claiming superuser", &anUser{super: true}, "post.delete", private, false, iam.ReasonNone},
		{"empty-ID user is not the owner of an orphan", &anUser{}, "post.edit", orphan, false, iam.ReasonNone},
		{"owner edits", &anUser{id: "ann"}, "post.edit", private, true, iam.ReasonRule},
		{"a real superuser", &anUser{id: "root", super: true}, "post.delete", private, true, iam.ReasonSuperuser},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := c.Check(ctx, tc.s, tc.perm, tc.obj)
			require.NoError(t, err)
			require.Equal(t, tc.allow, d.Allowed, "%v", d)
			require.Equal(t, tc.reason, d.Reason, "%v", d)
			require.Equal(t, tc.allow, c.HasPerm(ctx, tc.s, tc.perm, tc.obj))
		})
	}
	require.True(t, sawNil, "the visitor reached is_owner as a nil *anUser")
	// A subject of another type that is not anonymous is still wrong.
	_, err = c.Check(ctx, &tnUser{id: "x"}, "post.edit", private)
	require.ErrorIs(t, err, iam.ErrWrongType)
	// A visitor with an object of the wrong type: the error names the object.
	_, err = c.Check(ctx, anVisitor{}, "post.edit", &tnDoc{id: "1"})
	require.ErrorIs(t, err, iam.ErrWrongType)
	require.Contains(t, err.Error(), "wants object")
	// A nil subject says so.
	d, err := c.Check(ctx, nil, "post.view", public)
	require.NoError(t, err)
	require.Equal(t, iam.ReasonNoSubject, d.Reason)
	require.Equal(t, "denied post.view: no subject", d.String())
}
