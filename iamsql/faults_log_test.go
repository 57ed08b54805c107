package iamsql_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamsql"
)

// dropProxy forwards a PostgreSQL connection and swallows a share of the
// server's NotificationResponse messages: notifications lost on the way.
// It reads the server's side message by message (type byte, length), so
// the connection must not negotiate TLS (sslmode=disable).
type dropProxy struct {
	ln      net.Listener
	rate    float64
	dropped atomic.Int64
	passed  atomic.Int64
}

func newDropProxy(t *testing.T, target string, rate float64) *dropProxy {
	t.Helper()
	p := &dropProxy{rate: rate}
	p.ln = startProxy(t, target, func(c, s net.Conn) {
		go func() { _, _ = io.Copy(s, c) }()
		go p.serverToClient(c, s)
	})
	return p
}

func (p *dropProxy) serverToClient(dst, src net.Conn) {
	r := bufio.NewReader(src)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	head := make([]byte, 5)
	for {
		if _, err := io.ReadFull(r, head); err != nil {
			_ = dst.Close()
			return
		}
		body := make([]byte, int(binary.BigEndian.Uint32(head[1:]))-4)
		if _, err := io.ReadFull(r, body); err != nil {
			_ = dst.Close()
			return
		}
		if head[0] == 'A' {
			if rng.Float64() < p.rate {
				p.dropped.Add(1)
				continue
			}
			p.passed.Add(1)
		}
		if _, err := dst.Write(append(head, body...)); err != nil {
			return
		}
	}
}

// toggleGrant revokes ann's doc.view on doc d through s if held says she
// has it, else grants it, and records the change in held.
func toggleGrant(t *testing.T, s *iamsql.Store, held map[string]bool, d string) {
	t.Helper()
	g := iam.Grant{Holder: iam.User("ann"), Perm: "doc.view", On: doc(d)}
	if held[d] {
		require.NoError(t, s.Revoke(t.Context(), g))
	} else {
		require.NoError(t, s.Grant(t.Context(), g))
	}
	held[d] = !held[d]
}

// contract 16b, with notifications lost: the reading replica's listener
// connects through a proxy that swallows half of them. Every change still
// reaches its cache, from the change log (a revision skipped or a
// transaction's rows incomplete sends it there at once; a lost last
// revision waits for the ChangePoll timer), without a whole-cache drop;
// and under each write's token no answer is stale.
func TestDroppedNotifications(t *testing.T) {
	ctx := context.Background()
	dsn, ch := pgSchema(t)
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	p := newDropProxy(t, u.Host, 0.5)
	lu := *u
	lu.Host = p.ln.Addr().String()
	a, err := iamsql.OpenPostgresWith(ctx, dsn, iamsql.Options{Channel: ch})
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })
	const poll = 100 * time.Millisecond
	b, err := iamsql.OpenPostgresWith(ctx, dsn, iamsql.Options{CacheTTL: time.Hour, Channel: ch, ListenDSN: lu.String(), ChangePoll: poll})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	cb, err := iam.New(policy, b)
	require.NoError(t, err)

	r := rand.New(rand.NewPCG(7, 7))
	held := map[string]bool{}
	var lat []time.Duration
	stale := 0
	for i := range 600 {
		d := strconv.Itoa(r.IntN(20))
		toggleGrant(t, a, held, d)
		committed := time.Now()
		if i%2 == 0 {
			tok, err := a.Token(ctx)
			require.NoError(t, err)
			if cb.HasPerm(iam.AtLeast(ctx, tok), user("ann"), "doc.view", doc(d)) != held[d] {
				stale++
			}
			continue
		}
		eventually(t, func() bool { return cb.HasPerm(ctx, user("ann"), "doc.view", doc(d)) == held[d] }, "the change reaches b")
		lat = append(lat, time.Since(committed))
	}
	require.Zero(t, stale, "stale answers under a token")
	st := b.ListenerStats()
	require.Positive(t, p.dropped.Load(), "the proxy dropped notifications")
	require.Zero(t, st.DropAll, "the log reached back every time: no whole-cache drop")
	require.Positive(t, st.CatchUps)
	slices.Sort(lat)
	q := func(x float64) time.Duration { return lat[int(x*float64(len(lat)-1))] }
	t.Logf("notifications dropped %d, passed %d; b caught up from the log %d times (%d rows); without a token, commit → answer p50 %v, p99 %v, max %v (ChangePoll %v)",
		p.dropped.Load(), p.passed.Load(), st.CatchUps, st.LogRows, q(0.5), q(0.99), lat[len(lat)-1], poll)
	for k, v := range held {
		require.Equal(t, v, cb.HasPerm(ctx, user("ann"), "doc.view", doc(k)), "doc %s at the end", k)
	}
}

// contract 16b, with the listener killed mid-stream: while one replica
// writes 400 changes, the other's listening connection is terminated every
// 50; every change still reaches its cache, read back from the log after
// each reconnect, and the cache is never dropped whole.
func TestListenerKilledMidStream(t *testing.T) {
	ctx := context.Background()
	a, b := twoStores(t)
	cb, err := iam.New(policy, b)
	require.NoError(t, err)
	held := map[string]bool{}
	r := rand.New(rand.NewPCG(5, 9))
	kills := 0
	for i := range 400 {
		if i%50 == 25 {
			var n int
			require.NoError(t, a.DB().QueryRowContext(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
				WHERE query LIKE 'LISTEN %' AND position($1 in query) > 0 AND pid <> pg_backend_pid()`, a.Channel()).Scan(&n))
			kills += n
		}
		d := strconv.Itoa(r.IntN(30))
		toggleGrant(t, a, held, d)
		// Half of the changes are checked at once (a cached answer for
		// the next change to turn), the rest only at the end.
		if i%2 == 0 {
			eventually(t, func() bool { return cb.HasPerm(ctx, user("ann"), "doc.view", doc(d)) == held[d] }, "the change reaches b")
		}
	}
	eventually(t, func() bool {
		for k, v := range held {
			if cb.HasPerm(ctx, user("ann"), "doc.view", doc(k)) != v {
				return false
			}
		}
		return true
	}, "every change reaches b")
	st := b.ListenerStats()
	require.Positive(t, kills)
	require.Greater(t, st.Connects, uint64(1), "b's listener reconnected")
	require.Zero(t, st.DropAll, "the log reached back every time: no whole-cache drop")
	t.Logf("%d listening connections killed; b reconnected %d times, caught up from the log %d times (%d rows)",
		kills, st.Connects-1, st.CatchUps, st.LogRows)
}
