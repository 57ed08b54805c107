package iamsql

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
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
	// DropAll counts whole-cache drops (reconnects, bulk payloads).
	DropAll uint64
}

// ListenerStats returns the listener's counters (zero without a listener).
func (s *Store) ListenerStats() ListenerStats {
	return ListenerStats{
		Connects:      s.lstats.connects.Load(),
		Notifications: s.lstats.notifications.Load(),
		DropAll:       s.lstats.dropAll.Load(),
	}
}

// startListener LISTENs on one dedicated connection of the pool and returns
// once the first LISTEN is in place, so no commit after Open is missed.
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
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, func() {
			if first {
				first = false
				ready <- nil
			} else {
				s.lstats.dropAll.Add(1)
				s.cache.InvalidateAll()
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
		// The cache may now miss notifications: drop it at once too, so
		// the TTL is not the only bound while the listener is away.
		s.lstats.dropAll.Add(1)
		s.cache.InvalidateAll()
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, time.Second)
	}
}

// listenOnce runs one connection's LISTEN session until it fails or ctx
// ends; listening is called once the LISTEN succeeded.
func (s *Store) listenOnce(ctx context.Context, listening func()) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("iamsql: PostgreSQL needs the pgx driver (github.com/jackc/pgx/v5/stdlib), got %T", dc)
		}
		pc := sc.Conn()
		if _, err := pc.Exec(ctx, "LISTEN "+pgx.Identifier{s.opts.Channel}.Sanitize()); err != nil {
			return errors.Join(err, errBadConn)
		}
		s.lstats.connects.Add(1)
		listening()
		for {
			// Wake up every heartbeat to ping: a half-open connection (a
			// dead network path that nobody closed) delivers nothing and
			// would otherwise go unnoticed until TCP gives up.
			wctx, cancel := context.WithTimeout(ctx, s.heartbeat)
			n, err := pc.WaitForNotification(wctx)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					// Closing: discard the connection rather than clean it
					// up over a path that may be dead.
					return errBadConn
				}
				if wctx.Err() != nil && !pc.IsClosed() {
					pctx, cancel := context.WithTimeout(ctx, s.heartbeat)
					err := pc.Ping(pctx)
					cancel()
					if err != nil {
						return errors.Join(fmt.Errorf("heartbeat: %w", err), errBadConn)
					}
					continue
				}
				return errors.Join(err, errBadConn)
			}
			s.lstats.notifications.Add(1)
			if keys, ok := decodeKeys(n.Payload); ok {
				s.cache.Invalidate(keys...)
			} else {
				s.lstats.dropAll.Add(1)
				s.cache.InvalidateAll()
			}
		}
	})
}

// errBadConn makes database/sql discard the listener's broken connection.
var errBadConn = driver.ErrBadConn
