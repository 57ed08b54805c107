package iamsql_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamsql"
)

// twoStores opens two Stores on one PostgreSQL schema, as two replicas of
// an application would. Their caches hold entries for an hour, so only
// LISTEN/NOTIFY can explain a replica seeing another's write.
func twoStores(t *testing.T) (a, b *iamsql.Store) {
	t.Helper()
	dsn, ch := pgSchema(t)
	opts := iamsql.Options{CacheTTL: time.Hour, Channel: ch}
	open := func() *iamsql.Store {
		s, err := iamsql.OpenPostgresWith(context.Background(), dsn, opts)
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	return open(), open()
}

// eventually waits for cond, up to a liveness bound far above any latency
// target (this is not a performance assertion).
func eventually(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	require.Eventually(t, cond, 20*time.Second, time.Millisecond, msg)
}

// contract 16: a write committed by one replica reaches the others' caches.
func TestNotifyInvalidatesOtherReplicas(t *testing.T) {
	ctx := context.Background()
	a, b := twoStores(t)
	ca, err := iam.New(policy, a)
	require.NoError(t, err)
	cb, err := iam.New(policy, b)
	require.NoError(t, err)

	writes := []struct {
		name  string
		write func(s *iamsql.Store) error
		perm  string
		want  bool
	}{
		{"grant", func(s *iamsql.Store) error {
			return s.Grant(ctx, iam.Grant{Holder: iam.User("ann"), Perm: "doc.view", On: doc("1")})
		}, "doc.view", true},
		{"revoke", func(s *iamsql.Store) error {
			return s.Revoke(ctx, iam.Grant{Holder: iam.User("ann"), Perm: "doc.view", On: doc("1")})
		}, "doc.view", false},
		{"put profile", func(s *iamsql.Store) error {
			return s.PutProfile(ctx, iam.Profile{Holder: iam.User("ann"), Role: "doc.editor", Active: true})
		}, "doc.edit", true},
		{"deactivate", func(s *iamsql.Store) error {
			return s.SetProfileActive(ctx, iam.User("ann"), "doc.editor", false)
		}, "doc.edit", false},
		{"group role", func(s *iamsql.Store) error {
			return s.PutProfile(ctx, iam.Profile{Holder: iam.Group("staff"), Role: "doc.viewer", Active: true})
		}, "doc.view", false},
		{"join group", func(s *iamsql.Store) error { return s.AddMember(ctx, "ann", "staff") }, "doc.view", true},
		{"leave group", func(s *iamsql.Store) error { return s.RemoveMember(ctx, "ann", "staff") }, "doc.view", false},
		{"type grant", func(s *iamsql.Store) error {
			return s.Grant(ctx, iam.Grant{Holder: iam.User("ann"), Perm: "doc.edit", On: iam.TypeScope("doc")})
		}, "doc.edit", true},
		{"delete grants on type", func(s *iamsql.Store) error { return s.DeleteGrantsOn(ctx, iam.TypeScope("doc")) }, "doc.edit", false},
		{"parent grant", func(s *iamsql.Store) error {
			if err := s.Grant(ctx, iam.Grant{Holder: iam.User("ann"), Role: "doc.editor", On: doc("folder")}); err != nil {
				return err
			}
			return s.SetParents(ctx, doc("1"), []iam.Ref{doc("folder")})
		}, "doc.edit", true},
		{"unparent", func(s *iamsql.Store) error { return s.SetParents(ctx, doc("1"), nil) }, "doc.edit", false},
	}
	for _, w := range writes {
		// Warm both caches with the old answer, write on A, then B must follow.
		old := !w.want
		if w.name == "group role" {
			old = false
		}
		require.Equal(t, old, cb.HasPerm(ctx, user("ann"), w.perm, doc("1")), "%s: before", w.name)
		require.NoError(t, w.write(a), w.name)
		require.Equal(t, w.want, ca.HasPerm(ctx, user("ann"), w.perm, doc("1")), "%s: the writer sees it at once (contract 15)", w.name)
		eventually(t, func() bool { return cb.HasPerm(ctx, user("ann"), w.perm, doc("1")) == w.want }, w.name+": the other replica follows")
	}
}

// A rolled-back write changes nothing and notifies nothing.
func TestRollbackNotifiesNothing(t *testing.T) {
	ctx := context.Background()
	a, b := twoStores(t)
	cb, err := iam.New(policy, b)
	require.NoError(t, err)
	g := iam.Grant{Holder: iam.User("ann"), Perm: "doc.view", On: doc("1")}
	require.False(t, cb.HasPerm(ctx, user("ann"), "doc.view", doc("1")))
	before := b.ListenerStats().Notifications

	boom := errors.New("rolled back")
	err = a.Update(ctx, func(_ *sql.Tx, w *iamsql.Writer) error {
		if err := w.Grant(ctx, g); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	// A committed marker write on another key: once B has its notification,
	// any notification of the rolled-back write would have arrived before it.
	require.NoError(t, a.AddMember(ctx, "marker", "m"))
	// The marker's transaction sends two: its write's and its commit's.
	eventually(t, func() bool { return b.ListenerStats().Notifications >= before+2 }, "marker notification")
	require.Equal(t, before+2, b.ListenerStats().Notifications, "only the committed write notified")
	require.False(t, cb.HasPerm(ctx, user("ann"), "doc.view", doc("1")))
	gs, err := b.Grants(ctx, doc("1"))
	require.NoError(t, err)
	require.Equal(t, 0, gs.Len())
}

// contract 16: when the listener's connection is killed, it reconnects,
// LISTENs again and reads what it missed from the change log: a revocation
// committed while it was away is not served stale afterwards, and the rest
// of the cache is kept.
func TestListenerSurvivesTerminate(t *testing.T) {
	ctx := context.Background()
	a, b := twoStores(t)
	cb, err := iam.New(policy, b)
	require.NoError(t, err)
	g := iam.Grant{Holder: iam.User("ann"), Perm: "doc.view", On: doc("1")}
	require.NoError(t, a.Grant(ctx, g))
	eventually(t, func() bool { return cb.HasPerm(ctx, user("ann"), "doc.view", doc("1")) }, "granted")

	before := b.ListenerStats().Connects
	// Kill every listening backend of this test's channel (B's and A's),
	// and revoke in the same breath: the notification may be lost.
	var killed int
	require.NoError(t, a.DB().QueryRowContext(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE query LIKE 'LISTEN %' AND position($1 in query) > 0 AND pid <> pg_backend_pid()`, a.Channel()).Scan(&killed))
	require.GreaterOrEqual(t, killed, 1)
	require.NoError(t, a.Revoke(ctx, g))

	eventually(t, func() bool { return b.ListenerStats().Connects > before }, "the listener reconnects")
	require.False(t, cb.HasPerm(ctx, user("ann"), "doc.view", doc("1")), "no stale allow after the reconnect")
	require.Zero(t, b.ListenerStats().DropAll, "the log reached back: no whole-cache drop")

	// And it is listening again: a new grant arrives by notification.
	require.NoError(t, a.Grant(ctx, g))
	eventually(t, func() bool { return cb.HasPerm(ctx, user("ann"), "doc.view", doc("1")) }, "notifications flow again")
}
