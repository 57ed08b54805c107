package iamsql

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamcache"
)

// The change log (table iam_changes) has one row per write, appended in the
// writing transaction under a revision that the transaction takes on its
// first write (table iam_revision) and holds, locked, until it commits.
// Revisions are thus dense and in commit order: a process that has applied
// revision n to its cache reads exactly what it lacks with "revision > n".
// NOTIFY is the fast path (it carries the revision and the keys); the log
// is what a process reads after a gap, a lost listener, an oversized
// payload, on a timer, and when a check carries a newer token.

// DefaultChangePoll is Options.ChangePoll's default.
const DefaultChangePoll = time.Second

// ErrPruned: Watch was asked to resume from a revision the change log no
// longer reaches back to (see PruneChanges).
var ErrPruned = errors.New("iamsql: the change log no longer reaches back to that token")

// Op is what one write of the change log did.
type Op uint8

// The writes of the change log.
const (
	OpPutProfile Op = iota + 1
	OpActivate
	OpDeactivate
	OpDeleteProfile
	OpAddMember
	OpRemoveMember
	OpGrant
	OpRevoke
	OpDeleteGrantsOn
	OpSetParents
)

var opNames = [...]string{"", "put_profile", "activate", "deactivate", "delete_profile",
	"add_member", "remove_member", "grant", "revoke", "delete_grants_on", "set_parents"}

func (o Op) String() string {
	if int(o) < len(opNames) && o != 0 {
		return opNames[o]
	}
	return "Op(" + strconv.Itoa(int(o)) + ")"
}

// Change is one write of the change log, as Watch reports it. Which fields
// are set depends on Op: Holder and Role for the profile ops; Holder (a
// user) and Group for memberships; Holder, On and Role or Perm for grants;
// On for OpDeleteGrantsOn and OpSetParents.
type Change struct {
	Revision int64
	At       time.Time
	Op       Op
	Holder   iam.Principal
	Role     string
	Perm     string
	Group    string
	On       iam.Ref
}

// keys are the cache entries a change makes stale.
func (c Change) key() iamcache.Key {
	switch c.Op {
	case OpAddMember, OpRemoveMember, OpPutProfile, OpActivate, OpDeactivate, OpDeleteProfile:
		return iamcache.HoldingKey(c.Holder)
	case OpSetParents:
		return iamcache.ParentsKey(c.On)
	}
	return iamcache.GrantsKey(c.On)
}

// token and parseToken spell a revision as a Token.
func token(rev int64) iam.Token { return iam.Token("r" + strconv.FormatInt(rev, 10)) }

func parseToken(t iam.Token) (int64, error) {
	s, ok := strings.CutPrefix(string(t), "r")
	n, err := strconv.ParseInt(s, 10, 64)
	if !ok || err != nil || n < 0 {
		return 0, fmt.Errorf("%w: %q is not a token of an iamsql store", iam.ErrInvalid, string(t))
	}
	return n, nil
}

// logRow appends c to the change log in w's transaction, taking the
// transaction's revision on its first write.
func (w *Writer) logRow(ctx context.Context, c Change) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.rev == 0 {
		var args []any
		if w.s.d == Postgres {
			args = append(args, w.s.opts.Channel)
		}
		if err := w.tx.QueryRowContext(ctx, w.s.q.nextRevision, args...).Scan(&w.rev); err != nil {
			return fmt.Errorf("taking a revision: %w", err)
		}
	}
	name, isRole := c.Perm, c.Role != ""
	switch {
	case isRole:
		name = c.Role
	case c.Group != "":
		name = c.Group
	}
	_, err := w.tx.ExecContext(ctx, w.s.q.logChange, w.rev, w.seq, w.s.now().UnixMicro(), int(c.Op),
		int(c.Holder.Kind), c.Holder.ID, name, isRole, c.On.Type, c.On.ID)
	w.seq++
	return err
}

// Token returns the token of w's transaction: once it has committed, a
// check under iam.AtLeast(ctx, token) on any process reads its writes. It is
// "" before the first write.
func (w *Writer) Token() iam.Token {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.rev == 0 {
		return ""
	}
	return token(w.rev)
}

// Token implements iam.Tokener: the token of the database's state now,
// which every write committed before the call is part of.
func (s *Store) Token(ctx context.Context) (iam.Token, error) {
	rev, err := s.revision(ctx)
	if err != nil {
		return "", err
	}
	return token(rev), nil
}

// revision reads the database's revision: every write committed so far.
func (s *Store) revision(ctx context.Context) (int64, error) {
	var rev int64
	if err := s.db.QueryRowContext(ctx, s.q.revision).Scan(&rev); err != nil {
		return 0, fmt.Errorf("iamsql: reading the revision: %w", err)
	}
	return rev, nil
}

// follower is the part of a Store that keeps its cache in step with the
// change log.
type follower struct {
	applied atomic.Int64 // every revision ≤ applied is invalidated in the cache
	heard   atomic.Int64 // the highest revision a notification named
	mu      sync.Mutex   // one catch-up at a time
	kick    chan struct{}
	newsMu  sync.Mutex
	news    chan struct{} // closed (and replaced) when the log may have grown
	stop    context.CancelFunc
	done    chan struct{}

	catchUps, rows atomic.Uint64
	lastPrune      time.Time

	// Used by the listener goroutine only: how many of each revision's
	// row notifications arrived.
	seen map[int64]int64
}

// announce wakes every Watch: the log may have grown.
func (f *follower) announce() {
	f.newsMu.Lock()
	close(f.news)
	f.news = make(chan struct{})
	f.newsMu.Unlock()
}

func (f *follower) newsChan() <-chan struct{} {
	f.newsMu.Lock()
	defer f.newsMu.Unlock()
	return f.news
}

// wake asks the follower to read the log now.
func (f *follower) wake() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// startFollower reads the current revision (the cache is empty, so it is
// applied) and starts the goroutine that reads the log every ChangePoll
// and whenever woken.
func (s *Store) startFollower(ctx context.Context) error {
	f := &s.follow
	f.kick = make(chan struct{}, 1)
	f.news = make(chan struct{})
	rev, err := s.revision(ctx)
	if err != nil {
		return err
	}
	f.applied.Store(rev)
	f.heard.Store(rev)
	fctx, stop := context.WithCancel(context.Background())
	f.stop, f.done = stop, make(chan struct{})
	go s.followLoop(fctx)
	return nil
}

func (s *Store) followLoop(ctx context.Context) {
	defer close(s.follow.done)
	t := time.NewTicker(s.poll)
	defer t.Stop()
	var failing time.Time // since when the log could not be read
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.follow.kick:
		case <-t.C:
		}
		cctx, cancel := context.WithTimeout(ctx, s.heartbeat)
		err := s.catchUp(cctx)
		if err == nil {
			err = s.maybePrune(cctx)
		}
		cancel()
		switch {
		case err == nil || ctx.Err() != nil:
			failing = time.Time{}
		case failing.IsZero():
			failing = time.Now()
			s.log.Warn("iamsql: cannot read the change log", "err", err)
		case time.Since(failing) >= s.heartbeat:
			// Unreadable for a heartbeat: nothing tells what changed (a
			// replica cut off from the database while others write), so
			// drop the cache and let the reads fail while the database
			// does. A shorter outage (a restart) keeps it: nobody could
			// write meanwhile, and the log tells the rest.
			s.dropAll("the change log cannot be read: "+err.Error(), s.follow.applied.Load(), -1)
		}
	}
}

// catchUp reads the change log past the applied revision and invalidates
// exactly the keys it names. It drops the whole cache only when the log no
// longer reaches back (pruned) or the database went back in time (a
// restore).
func (s *Store) catchUp(ctx context.Context) error {
	f := &s.follow
	f.mu.Lock()
	defer f.mu.Unlock()
	from := f.applied.Load()
	top, err := s.revision(ctx)
	if err != nil {
		return err
	}
	if top == from {
		return nil
	}
	f.catchUps.Add(1)
	if top < from {
		s.dropAll("the database's revision went back (restored?)", from, top)
		f.applied.Store(top)
		f.heard.Store(top)
		f.announce()
		return nil
	}
	changes, err := s.readLog(ctx, s.db, from, top, maxCatchUp+1)
	if err != nil {
		return err
	}
	switch {
	case len(changes) > maxCatchUp:
		s.dropAll("too many changes to read back", from, top)
	case len(changes) == 0 || changes[0].Revision != from+1 || changes[len(changes)-1].Revision != top:
		s.dropAll("the change log no longer reaches back", from, top)
	default:
		keys := make([]iamcache.Key, len(changes))
		for i, c := range changes {
			keys[i] = c.key()
		}
		s.cache.Invalidate(keys...)
		f.rows.Add(uint64(len(changes)))
	}
	f.applied.Store(top)
	if top > f.heard.Load() {
		f.heard.Store(top)
	}
	f.announce()
	return nil
}

// tokenWait is how long a check under a newer token waits for the
// listener before it reads the change log itself.
const tokenWait = 2 * time.Millisecond

// maxCatchUp bounds one catch-up: past it, dropping the cache is cheaper.
const maxCatchUp = 100_000

func (s *Store) dropAll(why string, from, top int64) {
	s.log.Info("iamsql: dropping the cache", "why", why, "applied", from, "revision", top)
	s.lstats.dropAll.Add(1)
	s.cache.InvalidateAll()
}

// committed records that this process committed revision rev and
// invalidated its keys: if every earlier revision was applied, so is rev.
func (s *Store) committed(rev int64) {
	if s.cache == nil || rev == 0 {
		return
	}
	s.follow.applied.CompareAndSwap(rev-1, rev)
	s.follow.announce()
}

// fresh makes the cache at least as new as the token ctx carries (an
// iam.AtLeast), reading the change log if it is behind. Without a cache
// every read is the database's, which is as new as any token.
func (s *Store) fresh(ctx context.Context) error {
	if s.cache == nil {
		return nil
	}
	t := iam.TokenOf(ctx)
	if t == "" {
		return nil
	}
	rev, err := parseToken(t)
	if err != nil {
		return err
	}
	if rev <= s.follow.applied.Load() {
		return nil
	}
	// The listener usually applies a revision within a millisecond of its
	// commit: wait that long for it, then read the log (one query, which
	// the checks waiting for the same revision share: catchUp runs one at
	// a time, and the next finds nothing left to read).
	if s.d == Postgres {
		wait := time.NewTimer(tokenWait)
		for rev > s.follow.applied.Load() {
			select {
			case <-s.follow.newsChan():
				continue
			case <-wait.C:
			case <-ctx.Done():
			}
			break
		}
		wait.Stop()
		if rev <= s.follow.applied.Load() {
			return nil
		}
	}
	if err := s.catchUp(ctx); err != nil {
		return fmt.Errorf("iamsql: catching up to token %s: %w", t, err)
	}
	if rev > s.follow.applied.Load() {
		return fmt.Errorf("%w: token %s is newer than the database (revision %d)", iam.ErrInvalid, t, s.follow.applied.Load())
	}
	return nil
}

// readLog returns the changes of revisions in (from, to], oldest first, at
// most limit of them.
func (s *Store) readLog(ctx context.Context, q querier, from, to int64, limit int) ([]Change, error) {
	rows, err := q.QueryContext(ctx, s.q.readLog, from, to, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Change
	for rows.Next() {
		var (
			c            Change
			at           int64
			op, kind     int
			id, name     string
			isRole       bool
			otype, objID string
		)
		if err := rows.Scan(&c.Revision, &at, &op, &kind, &id, &name, &isRole, &otype, &objID); err != nil {
			return nil, err
		}
		c.At, c.Op = time.UnixMicro(at).UTC(), Op(op)
		if kind != 0 {
			c.Holder = iam.Principal{Kind: iam.PrincipalKind(kind), ID: id}
		}
		switch c.Op {
		case OpAddMember, OpRemoveMember:
			c.Group = name
		case OpGrant, OpRevoke:
			if isRole {
				c.Role = name
			} else {
				c.Perm = name
			}
		case OpPutProfile, OpActivate, OpDeactivate, OpDeleteProfile:
			c.Role = name
		}
		if c.Op == OpSetParents {
			c.On = iam.Ref{Type: otype, ID: objID}
		} else if otype != "" || c.Op == OpGrant || c.Op == OpRevoke || c.Op == OpDeleteGrantsOn {
			c.On = iam.StoredRef(otype, objID)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Watch calls fn with the changes of each revision after since, in order,
// one call per revision (a transaction's writes), as they commit, until ctx
// ends (it then returns ctx's error) or fn returns an error (which Watch
// returns). tok is the revision's token: resuming with Watch(ctx, tok, fn)
// continues exactly after it. since "" means from now. A since older than
// the log reaches back is an error wrapping ErrPruned.
//
// Watch reads the log when this Store learns of a commit (its own writes,
// and on PostgreSQL its listener's notifications) and at least every
// Options.ChangePoll.
func (s *Store) Watch(ctx context.Context, since iam.Token, fn func(tok iam.Token, changes []Change) error) error {
	if since == "" {
		t, err := s.Token(ctx)
		if err != nil {
			return err
		}
		since = t
	}
	rev, err := parseToken(since)
	if err != nil {
		return err
	}
	if top, err := s.revision(ctx); err != nil {
		return err
	} else if rev > top {
		return fmt.Errorf("%w: token %s is newer than the database (revision %d)", iam.ErrInvalid, since, top)
	}
	t := time.NewTicker(s.poll)
	defer t.Stop()
	for {
		var news <-chan struct{}
		if s.cache != nil {
			news = s.follow.newsChan()
		}
		top, err := s.revision(ctx)
		if err != nil {
			return fmt.Errorf("iamsql: watching: %w", err)
		}
		for rev < top {
			changes, err := s.readLog(ctx, s.db, rev, top, 10_000)
			if err != nil {
				return fmt.Errorf("iamsql: watching: %w", err)
			}
			if len(changes) == 0 || changes[0].Revision != rev+1 {
				return fmt.Errorf("%w: resuming after revision %d", ErrPruned, rev)
			}
			// Hand out whole revisions only: a batch cut inside one is read
			// again from its start.
			last := changes[len(changes)-1].Revision
			if len(changes) == 10_000 && last < top {
				for len(changes) > 0 && changes[len(changes)-1].Revision == last {
					changes = changes[:len(changes)-1]
				}
				if len(changes) == 0 {
					return fmt.Errorf("iamsql: watching: revision %d has more than 10,000 writes", last)
				}
			}
			for i := 0; i < len(changes); {
				j := i
				for j < len(changes) && changes[j].Revision == changes[i].Revision {
					j++
				}
				if err := fn(token(changes[i].Revision), changes[i:j]); err != nil {
					return err
				}
				rev = changes[i].Revision
				i = j
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-news:
		case <-t.C:
		}
	}
}

// PruneChanges deletes the change-log rows written before before and
// returns how many. A process whose cache is behind the pruned rows drops
// its whole cache when it catches up, and Watch cannot resume from them
// (ErrPruned); Options.ChangeRetention prunes on a timer.
func (s *Store) PruneChanges(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.q.pruneChanges, before.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("iamsql: pruning the change log: %w", err)
	}
	return res.RowsAffected()
}

// maybePrune prunes rows older than ChangeRetention, at most once per
// tenth of it (and once a minute at most).
func (s *Store) maybePrune(ctx context.Context) error {
	keep := s.opts.ChangeRetention
	if keep <= 0 {
		return nil
	}
	now := s.now()
	if now.Sub(s.follow.lastPrune) < max(keep/10, time.Minute) {
		return nil
	}
	s.follow.lastPrune = now
	_, err := s.PruneChanges(ctx, now.Add(-keep))
	return err
}
