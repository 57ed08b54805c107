package iamsql_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	osuser "os/user"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamsql"
)

// ownCluster starts a PostgreSQL cluster of the test's own (restarting the
// shared test server would break the tests of other packages running at
// the same time) and returns its DSN and a function that restarts it.
func ownCluster(t *testing.T) (dsn string, restart func()) {
	t.Helper()
	postgresDSN(t) // skips (or fails under CI) like every PostgreSQL test
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	require.NotEmpty(t, bins, "PostgreSQL binaries")
	sort.Strings(bins)
	bin := filepath.Dir(bins[len(bins)-1])
	dir, err := os.MkdirTemp("", "iam-restart-*")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	var as []string
	if os.Geteuid() == 0 { // initdb refuses root: run as the package's postgres account
		pu, err := osuser.Lookup("postgres")
		require.NoError(t, err)
		require.NoError(t, exec.Command("chown", pu.Username, dir).Run())
		as = []string{"runuser", "-u", "postgres", "--"}
	}
	run := func(args ...string) {
		t.Helper()
		out, err := exec.Command(append(as, args...)[0], append(as, args...)[1:]...).CombinedOutput()
		require.NoError(t, err, "%v: %s", args, out)
	}
	run(filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"), "-U", "iam", "--auth=trust")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	opts := fmt.Sprintf("-h 127.0.0.1 -p %d -k %s -c fsync=off", port, dir)
	ctl := filepath.Join(bin, "pg_ctl")
	run(ctl, "-D", filepath.Join(dir, "data"), "-l", filepath.Join(dir, "log"), "-w", "-o", opts, "start")
	t.Cleanup(func() {
		_ = exec.Command(append(as, ctl, "-D", filepath.Join(dir, "data"), "-m", "immediate", "-w", "stop")[0],
			append(as, ctl, "-D", filepath.Join(dir, "data"), "-m", "immediate", "-w", "stop")[1:]...).Run()
	})
	return fmt.Sprintf("postgres://iam@127.0.0.1:%d/postgres?sslmode=disable", port),
		func() {
			run(ctl, "-D", filepath.Join(dir, "data"), "-l", filepath.Join(dir, "log"), "-m", "fast", "-w", "-o", opts, "restart")
		}
}

// contract 16b across a PostgreSQL restart: the replicas' listeners lose
// their connections and come back; what was written after the restart
// reaches the other replica's cache, the log reaching back means no
// whole-cache drop, and tokens still give fresh answers.
func TestPostgresRestart(t *testing.T) {
	ctx := context.Background()
	dsn, restart := ownCluster(t)
	// A log unreadable for a heartbeat drops the whole cache, as it must;
	// the heartbeat is long enough that a restart on a busy machine (the
	// server down for a second or more) stays within it.
	opts := iamsql.Options{CacheTTL: time.Hour, ListenHeartbeat: 5 * time.Second}
	a, err := iamsql.OpenPostgresWith(ctx, dsn, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })
	b, err := iamsql.OpenPostgresWith(ctx, dsn, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	cb, err := iam.New(policy, b)
	require.NoError(t, err)

	keep := iam.Grant{Holder: iam.User("bob"), Perm: "doc.view", On: doc("2")}
	g := iam.Grant{Holder: iam.User("ann"), Perm: "doc.view", On: doc("1")}
	require.NoError(t, a.Grant(ctx, keep))
	require.NoError(t, a.Grant(ctx, g))
	eventually(t, func() bool { return cb.HasPerm(ctx, user("ann"), "doc.view", doc("1")) }, "b sees the grant")
	// The two grants' notifications (a row's and its transaction's end,
	// each) reach b, possibly after b read the rows they invalidate; then
	// bob's check is answered from the cache.
	eventually(t, func() bool { return b.ListenerStats().Notifications >= 4 }, "b hears both grants")
	eventually(t, func() bool {
		misses := b.Cache().Stats().Misses
		return cb.HasPerm(ctx, user("bob"), "doc.view", doc("2")) && b.Cache().Stats().Misses == misses
	}, "bob's check is answered from the cache")
	connects := b.ListenerStats().Connects

	restart()
	// The first statements after a restart may meet a connection the
	// server closed; database/sql retries them on a new one.
	require.NoError(t, a.Revoke(ctx, g))
	tok, err := a.Token(ctx)
	require.NoError(t, err)
	require.False(t, cb.HasPerm(iam.AtLeast(ctx, tok), user("ann"), "doc.view", doc("1")), "the revoke's token, right after the restart")
	eventually(t, func() bool { return b.ListenerStats().Connects > connects }, "b's listener reconnects")

	before := b.Cache().Stats()
	require.True(t, cb.HasPerm(ctx, user("bob"), "doc.view", doc("2")))
	after := b.Cache().Stats()
	require.Greater(t, after.Hits, before.Hits, "bob's entry survived the restart; cache %+v then %+v, listener %+v", before, after, b.ListenerStats())
	require.Zero(t, b.ListenerStats().DropAll, "the log reached back: no whole-cache drop")

	require.NoError(t, a.Grant(ctx, g))
	eventually(t, func() bool { return cb.HasPerm(ctx, user("ann"), "doc.view", doc("1")) }, "notifications flow again")
}
