package iamsql_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamsql"
	"github.com/iamgo/iam/iamtest"
)

// contract 19: the Manager's matrix on every SQL store, cached (the
// Manager reads through Transact, which bypasses the cache) and uncached.
func TestManagerMatrix(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			iamtest.TestManager(t, func(t *testing.T) iam.Store { return d.open(t, iamsql.DefaultOptions()) })
		})
	}
}

func TestAuditTable(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			s := d.open(t, iamsql.DefaultOptions())
			c, err := iam.New(policy, s)
			require.NoError(t, err)
			m := iam.NewManager(c, iam.ManagerOptions{Audit: s.AuditHook()})
			root := superuser("root")
			require.NoError(t, m.AssignRole(ctx, root, iam.Profile{Holder: iam.User("ann"), Role: "doc.editor", Active: true}))
			require.NoError(t, m.Grant(ctx, root, iam.Grant{Holder: iam.User("bob"), Perm: "doc.view", On: doc("7")}))
			require.ErrorIs(t, m.Grant(ctx, user("ann"), iam.Grant{Holder: iam.User("bob"), Perm: "doc.edit", On: doc("7")}), iam.ErrNotManager)

			all, err := s.AuditLog(ctx, iamsql.AuditQuery{})
			require.NoError(t, err)
			require.Len(t, all, 3)
			require.Equal(t, "refused", all[0].Event.Result, "newest first")
			require.Equal(t, "ann", all[0].Event.Actor)
			require.Contains(t, all[0].ErrText, "may not manage")

			bob := iam.User("bob")
			byTarget, err := s.AuditLog(ctx, iamsql.AuditQuery{Target: &bob})
			require.NoError(t, err)
			require.Len(t, byTarget, 2)
			require.Equal(t, iam.Grant{Holder: bob, Perm: "doc.view", On: doc("7")}, byTarget[1].Event.Change.Grant)

			byActor, err := s.AuditLog(ctx, iamsql.AuditQuery{Actor: "root", Limit: 1})
			require.NoError(t, err)
			require.Len(t, byActor, 1)
			require.Equal(t, iam.ChangeGrant, byActor[0].Event.Change.Kind)
			t.Logf("audit record: %+v", byActor[0])

			// The pages of AuditEvents (iamadmin's audit source) cover the
			// log once, newest first, with the filters applied.
			var got []string
			for cursor, pages := "", 0; pages == 0 || cursor != ""; pages++ {
				require.Less(t, pages, 5)
				evs, next, err := s.AuditEvents(ctx, "", "", cursor, 2)
				require.NoError(t, err)
				for _, e := range evs {
					got = append(got, e.Actor+" "+e.Result)
				}
				cursor = next
			}
			require.Equal(t, []string{"ann refused", "root applied", "root applied"}, got)
			evs, next, err := s.AuditEvents(ctx, "", "user:bob", "", 10)
			require.NoError(t, err)
			require.Len(t, evs, 2)
			require.Empty(t, next)
			require.ErrorContains(t, evs[0].Err, "may not manage")
			evs, _, err = s.AuditEvents(ctx, "root", "", "", 10)
			require.NoError(t, err)
			require.Len(t, evs, 2)
			for _, bad := range []string{"bob", "role:x", "user:"} {
				_, _, err = s.AuditEvents(ctx, "", bad, "", 10)
				require.ErrorIs(t, err, iam.ErrInvalid, bad)
			}
			_, _, err = s.AuditEvents(ctx, "", "", "x", 10)
			require.ErrorIs(t, err, iam.ErrInvalid)
		})
	}
}

type superuser string

func (s superuser) SubjectID() string { return string(s) }
func (s superuser) IsSuperuser() bool { return true }
