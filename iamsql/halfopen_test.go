package iamsql_test

import (
	"context"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamsql"
)

// startProxy listens on a local port and, for each client, dials target
// and runs pipe over the two connections; the test's end closes them all.
func startProxy(t *testing.T, target string, pipe func(client, server net.Conn)) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, s)
			mu.Unlock()
			pipe(c, s)
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln
}

// freezeProxy forwards TCP to PostgreSQL until frozen; then it stops
// forwarding bytes but keeps the sockets open: a half-open network path.
type freezeProxy struct {
	ln     net.Listener
	frozen atomic.Bool
}

func newFreezeProxy(t *testing.T, target string) *freezeProxy {
	t.Helper()
	p := &freezeProxy{}
	p.ln = startProxy(t, target, func(c, s net.Conn) {
		go p.pipe(c, s)
		go p.pipe(s, c)
	})
	return p
}

func (p *freezeProxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		for p.frozen.Load() {
			time.Sleep(10 * time.Millisecond)
		}
		if n > 0 {
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// contract 16: a listener on a dead network path that nobody closed
// notices it by its heartbeat and drops the cache, so a revocation it could
// not hear about is not served stale; and Close does not hang on it.
func TestListenerHalfOpen(t *testing.T) {
	ctx := context.Background()
	dsn, ch := pgSchema(t)
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	p := newFreezeProxy(t, u.Host)
	u.Host = p.ln.Addr().String()

	a, err := iamsql.OpenPostgresWith(ctx, dsn, iamsql.Options{Channel: ch})
	require.NoError(t, err)
	defer a.Close()
	b, err := iamsql.OpenPostgresWith(ctx, u.String(),
		iamsql.Options{CacheTTL: time.Hour, Channel: ch, ListenHeartbeat: 100 * time.Millisecond})
	require.NoError(t, err)
	cb, err := iam.New(policy, b)
	require.NoError(t, err)

	g := iam.Grant{Holder: iam.User("ann"), Perm: "doc.view", On: doc("1")}
	require.NoError(t, a.Grant(ctx, g))
	require.True(t, cb.HasPerm(ctx, user("ann"), "doc.view", doc("1")))

	drops := b.ListenerStats().DropAll
	p.frozen.Store(true)
	require.NoError(t, a.Revoke(ctx, g)) // B cannot hear of this
	eventually(t, func() bool { return b.ListenerStats().DropAll > drops }, "the heartbeat finds the dead connection")
	// B's database is unreachable too: the check errs and denies, it does
	// not serve the cached allow.
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	dec, err := cb.Check(cctx, user("ann"), "doc.view", doc("1"))
	require.Error(t, err)
	require.False(t, dec.Allowed)

	closed := make(chan error, 1)
	go func() { closed <- b.Close() }()
	select {
	case <-closed:
	case <-time.After(20 * time.Second): // liveness bound, not a timing target
		t.Fatal("Store.Close blocked on a dead network path")
	}
}

func TestOpenRejects(t *testing.T) {
	ctx := context.Background()
	_, err := iamsql.OpenSQLiteWith(ctx, t.TempDir()+"/a?b.db", iamsql.Options{})
	require.ErrorIs(t, err, iam.ErrInvalid)
	long := make([]byte, 64)
	for i := range long {
		long[i] = 'c'
	}
	_, err = iamsql.OpenSQLiteWith(ctx, t.TempDir()+"/x.db", iamsql.Options{Channel: string(long)})
	require.ErrorIs(t, err, iam.ErrInvalid)
}
