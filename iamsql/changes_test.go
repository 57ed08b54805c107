package iamsql_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamsql"
)

// replicas opens two Stores over one database, as two processes would: on
// SQLite two Stores on one file; on PostgreSQL two Stores on one schema.
// With deaf, b listens on another channel (PostgreSQL), so it learns of a's
// writes only from the change log.
func replicas(t *testing.T, dialect string, deaf bool, opts iamsql.Options) (a, b *iamsql.Store) {
	t.Helper()
	ctx := context.Background()
	if opts.CacheTTL == 0 {
		opts.CacheTTL = time.Hour
	}
	open := func(opts iamsql.Options) *iamsql.Store {
		var s *iamsql.Store
		var err error
		if dialect == "sqlite" {
			s, err = iamsql.OpenSQLiteWith(ctx, opts.Channel, iamsql.Options{CacheTTL: opts.CacheTTL, ChangePoll: opts.ChangePoll, Now: opts.Now})
		} else {
			s, err = iamsql.OpenPostgresWith(ctx, opts.ListenDSN, iamsql.Options{CacheTTL: opts.CacheTTL, ChangePoll: opts.ChangePoll, Channel: opts.Channel, Now: opts.Now})
		}
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	// The helper's own use of Options: Channel is the SQLite file or the
	// PostgreSQL channel, ListenDSN the PostgreSQL DSN.
	if dialect == "sqlite" {
		o := opts
		o.Channel = filepath.Join(t.TempDir(), "iam.db")
		return open(o), open(o)
	}
	dsn, ch := pgSchema(t)
	o := opts
	o.ListenDSN, o.Channel = dsn, ch
	a = open(o)
	if deaf {
		o.Channel = ch + "_deaf"
	}
	return a, open(o)
}

// contract 16b: the token of a write makes the other replica read it at once, even one
// that hears no notification and would otherwise serve its cached allow
// until its next poll of the change log.
func TestTokenReadsYourWrites(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			a, b := replicas(t, d.name, true, iamsql.Options{ChangePoll: time.Hour})
			cb, err := iam.New(policy, b)
			require.NoError(t, err)
			g := iam.Grant{Holder: iam.User("ann"), Perm: "doc.view", On: doc("1")}
			require.NoError(t, a.Grant(ctx, g))
			tok, err := a.Token(ctx)
			require.NoError(t, err)
			require.True(t, cb.HasPerm(iam.AtLeast(ctx, tok), user("ann"), "doc.view", doc("1")), "the grant, read with its token")

			require.NoError(t, a.Revoke(ctx, g))
			require.True(t, cb.HasPerm(ctx, user("ann"), "doc.view", doc("1")),
				"without a token b still answers from its cache: it has not heard of the revoke")
			tok, err = a.Token(ctx)
			require.NoError(t, err)
			dec, err := cb.Check(iam.AtLeast(ctx, tok), user("ann"), "doc.view", doc("1"))
			require.NoError(t, err)
			require.False(t, dec.Allowed, "with the revoke's token b denies")
			require.False(t, cb.HasPerm(ctx, user("ann"), "doc.view", doc("1")), "and its cache is caught up for everyone")
			require.Zero(t, b.ListenerStats().DropAll, "caught up from the log, not by dropping the cache")

			// The token of a transaction, from its Writer.
			var wtok iam.Token
			require.NoError(t, a.Update(ctx, func(_ *sql.Tx, w *iamsql.Writer) error {
				require.Empty(t, w.Token(), "no revision before the first write")
				if err := w.Grant(ctx, iam.Grant{Holder: iam.User("bob"), Perm: "doc.view", On: doc("1")}); err != nil {
					return err
				}
				wtok = w.Token()
				return w.AddMember(ctx, "bob", "staff")
			}))
			require.True(t, cb.HasPerm(iam.AtLeast(ctx, wtok), user("bob"), "doc.view", doc("1")))
		})
	}
}

// contract 16b: a token a store cannot have issued is an error, so the check denies.
func TestBadTokenDenies(t *testing.T) {
	ctx := context.Background()
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			a, b := replicas(t, d.name, false, iamsql.Options{})
			require.NoError(t, a.Grant(ctx, iam.Grant{Holder: iam.User("ann"), Perm: "doc.view", On: doc("1")}))
			cb, err := iam.New(policy, b)
			require.NoError(t, err)
			for _, tok := range []iam.Token{"mem:3", "r-1", "rx", "r999999"} {
				dec, err := cb.Check(iam.AtLeast(ctx, tok), user("ann"), "doc.view", doc("1"))
				require.ErrorIs(t, err, iam.ErrInvalid, "token %q", tok)
				require.False(t, dec.Allowed, "token %q", tok)
			}
		})
	}
}

// writeRandom makes n random writes through s, some several to a
// transaction, and returns them as the change log must report them, with
// the token of each transaction.
func writeRandom(t *testing.T, s *iamsql.Store, r *rand.Rand, n int) (changes []iamsql.Change, toks []iam.Token) {
	t.Helper()
	ctx := context.Background()
	users := []string{"ann", "bob", "cy"}
	for len(changes) < n {
		var batch []iamsql.Change
		var tok iam.Token
		err := s.Update(ctx, func(_ *sql.Tx, w *iamsql.Writer) error {
			for range 1 + r.IntN(3) {
				u := iam.User(users[r.IntN(len(users))])
				on := doc(fmt.Sprint(r.IntN(4)))
				var err error
				var c iamsql.Change
				switch r.IntN(9) {
				case 0:
					c = iamsql.Change{Op: iamsql.OpPutProfile, Holder: u, Role: "doc.viewer"}
					err = w.PutProfile(ctx, iam.Profile{Holder: u, Role: "doc.viewer", Active: true})
				case 1:
					c = iamsql.Change{Op: iamsql.OpDeleteProfile, Holder: u, Role: "doc.viewer"}
					err = w.DeleteProfile(ctx, u, "doc.viewer")
				case 2:
					c = iamsql.Change{Op: iamsql.OpAddMember, Holder: u, Group: "staff"}
					err = w.AddMember(ctx, u.ID, "staff")
				case 3:
					c = iamsql.Change{Op: iamsql.OpRemoveMember, Holder: u, Group: "staff"}
					err = w.RemoveMember(ctx, u.ID, "staff")
				case 4:
					c = iamsql.Change{Op: iamsql.OpGrant, Holder: u, Perm: "doc.view", On: on}
					err = w.Grant(ctx, iam.Grant{Holder: u, Perm: "doc.view", On: on})
				case 5:
					c = iamsql.Change{Op: iamsql.OpRevoke, Holder: iam.Group("staff"), Role: "doc.editor", On: iam.TypeScope("doc")}
					err = w.Revoke(ctx, iam.Grant{Holder: iam.Group("staff"), Role: "doc.editor", On: iam.TypeScope("doc")})
				case 6:
					c = iamsql.Change{Op: iamsql.OpGrant, Holder: iam.Group("staff"), Role: "doc.editor", On: iam.GlobalScope()}
					err = w.Grant(ctx, iam.Grant{Holder: iam.Group("staff"), Role: "doc.editor", On: iam.GlobalScope()})
				case 7:
					c = iamsql.Change{Op: iamsql.OpDeleteGrantsOn, On: on}
					err = w.DeleteGrantsOn(ctx, on)
				default:
					c = iamsql.Change{Op: iamsql.OpSetParents, On: on}
					err = w.SetParents(ctx, on, []iam.Ref{{Type: "folder", ID: "f"}})
				}
				if err != nil {
					return err
				}
				batch = append(batch, c)
			}
			tok = w.Token()
			return nil
		})
		require.NoError(t, err)
		changes = append(changes, batch...)
		toks = append(toks, tok)
	}
	return changes, toks
}

// watchAll collects what Watch reports from since until it has want
// changes.
func watchAll(t *testing.T, s *iamsql.Store, since iam.Token, want int) (changes []iamsql.Change, toks []iam.Token) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	enough := errors.New("enough")
	err := s.Watch(ctx, since, func(tok iam.Token, cs []iamsql.Change) error {
		require.NotEmpty(t, cs)
		for _, c := range cs {
			require.Equal(t, cs[0].Revision, c.Revision, "one revision per call")
		}
		changes = append(changes, cs...)
		toks = append(toks, tok)
		if len(changes) >= want {
			return enough
		}
		return nil
	})
	require.ErrorIs(t, err, enough)
	return changes, toks
}

// sameLog compares changes but for their revisions and times.
func sameLog(t *testing.T, want, got []iamsql.Change) {
	t.Helper()
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(iamsql.Change{}, "Revision", "At")); diff != "" {
		t.Fatalf("the change log (-want +got):\n%s", diff)
	}
}

// contract 16b: Watch reports every write in commit order, one call per transaction, and
// resuming from any of its tokens reproduces the rest of the log exactly.
func TestWatchResumes(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			a, b := replicas(t, d.name, false, iamsql.Options{ChangePoll: 50 * time.Millisecond})
			start, err := b.Token(ctx)
			require.NoError(t, err)
			r := rand.New(rand.NewPCG(1, 2))
			want, wantToks := writeRandom(t, a, r, 300)
			got, toks := watchAll(t, b, start, len(want))
			sameLog(t, want, got)
			require.Equal(t, wantToks, toks, "one call per transaction, with its token")
			for i := 1; i < len(got); i++ {
				require.GreaterOrEqual(t, got[i].Revision, got[i-1].Revision)
			}
			// Resume from every token: the rest of the log, exactly.
			off := 0
			for i, tok := range toks[:len(toks)-1] {
				for off < len(got) && got[off].Revision <= got[0].Revision+int64(i) {
					off++
				}
				rest, _ := watchAll(t, b, tok, len(got)-off)
				if diff := cmp.Diff(got[off:], rest); diff != "" {
					t.Fatalf("resumed from %s (-want +got):\n%s", tok, diff)
				}
			}
			// A live Watch sees a write made after it started.
			now, err := b.Token(ctx)
			require.NoError(t, err)
			go func() {
				time.Sleep(20 * time.Millisecond)
				_ = a.Grant(ctx, iam.Grant{Holder: iam.User("zed"), Perm: "doc.view", On: doc("9")})
			}()
			live, _ := watchAll(t, b, now, 1)
			sameLog(t, []iamsql.Change{{Op: iamsql.OpGrant, Holder: iam.User("zed"), Perm: "doc.view", On: doc("9")}}, live)
		})
	}
}

// contract 16b: pruning keeps the log contiguous; a replica behind the pruned rows drops
// its cache (the only case it must), and Watch cannot resume from them.
func TestPruneChanges(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			now := func() time.Time { return clock }
			a, b := replicas(t, d.name, true, iamsql.Options{ChangePoll: time.Hour, Now: now})
			cb, err := iam.New(policy, b)
			require.NoError(t, err)
			start, err := b.Token(ctx)
			require.NoError(t, err)
			g := iam.Grant{Holder: iam.User("ann"), Perm: "doc.view", On: doc("1")}
			require.NoError(t, a.Grant(ctx, g))
			tok, err := a.Token(ctx)
			require.NoError(t, err)
			require.True(t, cb.HasPerm(iam.AtLeast(ctx, tok), user("ann"), "doc.view", doc("1")))
			require.NoError(t, a.Revoke(ctx, g))
			revoked, err := a.Token(ctx)
			require.NoError(t, err)
			clock = clock.Add(time.Hour)
			require.NoError(t, a.Grant(ctx, iam.Grant{Holder: iam.User("bob"), Perm: "doc.view", On: doc("2")}))
			n, err := a.PruneChanges(ctx, clock.Add(-time.Minute))
			require.NoError(t, err)
			require.Equal(t, int64(2), n, "the grant's and the revoke's rows")

			drops := b.ListenerStats().DropAll
			last, err := a.Token(ctx)
			require.NoError(t, err)
			require.False(t, cb.HasPerm(iam.AtLeast(ctx, last), user("ann"), "doc.view", doc("1")), "behind the pruned rows, b drops its cache")
			require.Equal(t, drops+1, b.ListenerStats().DropAll)

			err = b.Watch(ctx, start, func(iam.Token, []iamsql.Change) error { return nil })
			require.ErrorIs(t, err, iamsql.ErrPruned)
			err = b.Watch(ctx, tok, func(iam.Token, []iamsql.Change) error { return nil })
			require.ErrorIs(t, err, iamsql.ErrPruned, "the revoke's rows are gone")
			got, _ := watchAll(t, b, revoked, 1)
			sameLog(t, []iamsql.Change{{Op: iamsql.OpGrant, Holder: iam.User("bob"), Perm: "doc.view", On: doc("2")}}, got)
		})
	}
}

// contract 16b: without notifications (another SQLite process, a deaf PostgreSQL
// listener), a replica reads the log every ChangePoll: a revoke reaches its
// cache within that bound, with no token and no whole-cache drop.
func TestChangePollBound(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			a, b := replicas(t, d.name, true, iamsql.Options{ChangePoll: 20 * time.Millisecond})
			cb, err := iam.New(policy, b)
			require.NoError(t, err)
			g := iam.Grant{Holder: iam.User("ann"), Perm: "doc.view", On: doc("1")}
			require.NoError(t, a.Grant(ctx, g))
			eventually(t, func() bool { return cb.HasPerm(ctx, user("ann"), "doc.view", doc("1")) }, "b sees the grant")
			// Once b has read the grant's row, its cache keeps the allow
			// until the log says otherwise: only the revoke's row, read
			// by the poll, can retire it (a poll that ran after the first
			// check retired that answer, and a fresh read would have seen
			// the revoke without the log).
			eventually(t, func() bool { return b.ListenerStats().LogRows >= 1 }, "b reads the grant's row")
			require.True(t, cb.HasPerm(ctx, user("ann"), "doc.view", doc("1")))
			require.NoError(t, a.Revoke(ctx, g))
			eventually(t, func() bool { return !cb.HasPerm(ctx, user("ann"), "doc.view", doc("1")) }, "b reads the revoke from the log")
			st := b.ListenerStats()
			require.Zero(t, st.DropAll)
			require.GreaterOrEqual(t, st.LogRows, uint64(2))
		})
	}
}

// The memory store's tokens: every write is visible at once, so a token
// of its own is always satisfied.
func TestMemoryStoreToken(t *testing.T) {
	ctx := context.Background()
	m := iam.NewMemoryStore()
	var tk iam.Tokener = m
	t0, err := tk.Token(ctx)
	require.NoError(t, err)
	require.NoError(t, m.Grant(ctx, iam.Grant{Holder: iam.User("ann"), Perm: "doc.view", On: doc("1")}))
	t1, err := tk.Token(ctx)
	require.NoError(t, err)
	require.NotEqual(t, t0, t1)
	c, err := iam.New(policy, m)
	require.NoError(t, err)
	require.True(t, c.HasPerm(iam.AtLeast(ctx, t1), user("ann"), "doc.view", doc("1")))
}
