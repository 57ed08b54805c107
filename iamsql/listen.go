package iamsql

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// listenStats counts what the listener did (ListenerStats).
type listenStats struct {
	connects      atomic.Uint64
	notifications atomic.Uint64
	dropAll       atomic.Uint64
}

// ListenerStats describes the PostgreSQL invalidation listener.
type ListenerStats struct {
	// Connects counts successful LISTENs: 1 after Open, +1 per reconnect.
	Connects uint64
	// Notifications counts invalidation messages received.
	Notifications uint64
	// DropAll counts whole-cache drops: the change log could not be read,
	// or no longer reached back.
	DropAll uint64
	// CatchUps counts reads of the change log that found revisions to
	// apply, and LogRows the changes they applied.
	CatchUps, LogRows uint64
	// Applied is the revision this Store's cache is at: every write of it
	// and before is invalidated here.
	Applied int64
}

// ListenerStats returns the listener's counters (zero without a listener).
func (s *Store) ListenerStats() ListenerStats {
	return ListenerStats{
		Connects:      s.lstats.connects.Load(),
		Notifications: s.lstats.notifications.Load(),
		DropAll:       s.lstats.dropAll.Load(),
		CatchUps:      s.follow.catchUps.Load(),
		LogRows:       s.follow.rows.Load(),
		Applied:       s.follow.applied.Load(),
	}
}

// startListener starts the listener on a connection of its own (outside
// the pool) and returns once the first LISTEN is in place, so no commit
// after Open is missed.
func (s *Store) startListener(ctx context.Context) error {
	lctx, stop := context.WithCancel(context.Background())
	ready := make(chan error, 1)
	s.stop = stop
	s.listening = make(chan struct{})
	go s.listenLoop(lctx, ready)
	select {
	case err := <-ready:
		if err != nil {
			stop()
			<-s.listening
			return fmt.Errorf("iamsql: starting LISTEN: %w", err)
		}
		return nil
	case <-ctx.Done():
		stop()
		<-s.listening
		return ctx.Err()
	}
}

// listenLoop holds a connection in LISTEN and applies notifications to the
// cache. When the connection breaks it reconnects with backoff, LISTENs
// again, and only then drops the whole cache: whatever was committed while
// it was away is reloaded, and nothing committed after the new LISTEN is
// missed.
func (s *Store) listenLoop(ctx context.Context, ready chan<- error) {
	defer close(s.listening)
	backoff := 10 * time.Millisecond
	first := true
	var cfg *pgx.ConnConfig // the settings of the last connection made
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, &cfg, func() {
			if first {
				first = false
				s.lstats.connects.Add(1)
				ready <- nil
			} else {
				// Back after a break: read what was missed from the log
				// before counting the reconnect (the cache is dropped only
				// if the log cannot be read or no longer reaches back).
				cctx, cancel := context.WithTimeout(ctx, s.heartbeat)
				if err := s.catchUp(cctx); err != nil {
					s.dropAll("reading the change log after a reconnect: "+err.Error(), s.follow.applied.Load(), -1)
				}
				cancel()
				s.lstats.connects.Add(1)
			}
			backoff = 10 * time.Millisecond
		})
		if ctx.Err() != nil {
			break
		}
		if first {
			ready <- err
			return
		}
		s.log.Warn("iamsql: invalidation listener lost its connection; reconnecting", "err", err, "retry_in", backoff)
		// While the listener is away the follower reads the log through
		// the pool every ChangePoll, and drops the cache if it cannot.
		s.follow.wake()
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, time.Second)
	}
}

// listenOnce runs one connection's LISTEN session until it fails or ctx
// ends; listening is called once the LISTEN is in effect, and counts the
// connect.
//
// The connection is the listener's own, made with the settings of the
// application's pool (*cfg, refreshed from a pool connection that is
// borrowed only to read them) but not taken from it: a LISTEN holds its
// connection for good, which would leave a pool of one connection (or of k,
// with k Stores) with none for anything else.
func (s *Store) listenOnce(ctx context.Context, cfg **pgx.ConnConfig, listening func()) error {
	c, err := s.listenConfig(ctx, *cfg)
	if err != nil {
		return err
	}
	*cfg = c
	c = c.Copy()
	// The copied settings deliver notifications to the connection they
	// were copied from; unset, pgx delivers them to this connection.
	c.OnNotification = nil
	pc, err := pgx.ConnectConfig(ctx, c)
	if err != nil {
		return err
	}
	defer func() {
		// Bounded: on a dead network path the goodbye may never leave.
		cctx, cancel := context.WithTimeout(context.Background(), s.heartbeat)
		_ = pc.Close(cctx)
		cancel()
	}()
	if err := pc.PgConn().Exec(ctx, "LISTEN "+pgx.Identifier{s.opts.Channel}.Sanitize()).Close(); err != nil {
		return err
	}
	check, err := listenCheck(pc, s.opts.Channel)
	if err != nil {
		return err
	}
	if err := s.checkListening(ctx, pc, check); err != nil {
		return err
	}
	listening()
	for {
		// Wake up every heartbeat to ping: a half-open connection (a dead
		// network path that nobody closed) delivers nothing and would
		// otherwise go unnoticed until TCP gives up. The ping checks
		// again that the LISTEN is in effect.
		wctx, cancel := context.WithTimeout(ctx, s.heartbeat)
		n, err := pc.WaitForNotification(wctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if wctx.Err() != nil && !pc.IsClosed() {
				pctx, cancel := context.WithTimeout(ctx, s.heartbeat)
				err := s.checkListening(pctx, pc, check)
				cancel()
				if err != nil {
					return fmt.Errorf("heartbeat: %w", err)
				}
				continue
			}
			return err
		}
		if n == nil {
			continue
		}
		s.lstats.notifications.Add(1)
		s.notified(n.Payload)
	}
}

// notified applies one notification. Each write sends "<revision> <keys>",
// whose keys are dropped at once; the commit trigger ends a transaction's
// with "<revision> end <rows>". A revision whose rows all arrived, after
// a whole one, is applied without reading the log. Anything else (a
// revision skipped, rows lost, a payload too large to carry its keys)
// sends the follower to the log.
func (s *Store) notified(payload string) {
	f := &s.follow
	defer f.announce()
	revText, rest, _ := strings.Cut(payload, " ")
	rev, err := strconv.ParseInt(revText, 10, 64)
	if err != nil {
		f.wake()
		return
	}
	if heard := f.heard.Load(); rev > heard {
		if rev > heard+1 {
			f.wake()
		}
		f.heard.Store(rev)
	}
	if f.seen == nil {
		f.seen = map[int64]int64{}
	}
	if nText, ok := strings.CutPrefix(rest, "end "); ok {
		n, err := strconv.ParseInt(nText, 10, 64)
		got := f.seen[rev]
		delete(f.seen, rev)
		for r := range f.seen {
			if r < rev {
				delete(f.seen, r)
			}
		}
		if err != nil || got != n || !f.applied.CompareAndSwap(rev-1, rev) {
			if f.applied.Load() < rev {
				f.wake()
			}
		}
		return
	}
	if rev > f.applied.Load() {
		f.seen[rev]++
	}
	if keys, ok := decodeKeys(rest); ok {
		s.cache.Invalidate(keys...)
	} else {
		f.seen[rev] = -1 << 62 // its keys must come from the log
		f.wake()
	}
}

// listenConfig returns the settings for the listener's next connection:
// those of a connection of the pool. On the first call (in Open) the pool
// must lend one; on a reconnect, a pool that lends none within a heartbeat
// (every connection busy, or the server unreachable) does not hold the
// listener up: it reconnects with last, the settings that worked before.
func (s *Store) listenConfig(ctx context.Context, last *pgx.ConnConfig) (*pgx.ConnConfig, error) {
	if s.opts.ListenDSN != "" {
		return pgx.ParseConfig(s.opts.ListenDSN)
	}
	if last == nil {
		return s.poolConnConfig(ctx)
	}
	bctx, cancel := context.WithTimeout(ctx, s.heartbeat)
	defer cancel()
	if cfg, err := s.poolConnConfig(bctx); err == nil {
		return cfg, nil
	}
	return last, ctx.Err()
}

// poolConnConfig borrows a connection of the pool just long enough to copy
// the settings it was made with.
func (s *Store) poolConnConfig(ctx context.Context) (*pgx.ConnConfig, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var cfg *pgx.ConnConfig
	err = conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("iamsql: PostgreSQL needs the pgx driver (github.com/jackc/pgx/v5/stdlib), got %T", dc)
		}
		cfg = sc.Conn().Config() // a copy
		return nil
	})
	return cfg, err
}

// listenCheck returns the statement that tells whether the session LISTENs
// on channel: it LISTENs again (a no-op for a session that already does),
// so the session's last statement in pg_stat_activity stays a LISTEN
// naming the channel, and counts the channel in pg_listening_channels()
// (the LISTEN in the same implicit transaction is not counted before it
// commits). The channel is in the text as an identifier and a literal:
// the simple protocol (one round trip for both statements) takes no
// parameters.
func listenCheck(pc *pgx.Conn, channel string) (string, error) {
	lit, err := pc.PgConn().EscapeString(channel)
	if err != nil {
		return "", err
	}
	return "LISTEN " + pgx.Identifier{channel}.Sanitize() +
		"; SELECT count(*) FROM pg_listening_channels() AS c WHERE c = '" + lit + "'", nil
}

// checkListening runs check (listenCheck) and returns an error unless the
// session LISTENs on the channel: a LISTEN that succeeded without effect
// (a pooler in between that gave the next statement another server
// connection, say) would otherwise go unnoticed, and deliver nothing.
func (s *Store) checkListening(ctx context.Context, pc *pgx.Conn, check string) error {
	rs, err := pc.PgConn().Exec(ctx, check).ReadAll()
	if err != nil {
		return err
	}
	if len(rs) != 2 || len(rs[1].Rows) != 1 || len(rs[1].Rows[0]) != 1 || string(rs[1].Rows[0][0]) != "1" {
		return fmt.Errorf("iamsql: LISTEN %s is not in effect on its connection (a pooler in between?)",
			pgx.Identifier{s.opts.Channel}.Sanitize())
	}
	return nil
}
