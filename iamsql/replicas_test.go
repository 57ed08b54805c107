package iamsql_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamsql"
)

const replicaEnv = "IAM_REPLICA_HELPER"

// accessModel is the test's own account of who may view which document,
// kept apart from the code it judges: user and group grants of doc.view,
// viewer profiles of users and groups, and memberships.
type accessModel struct {
	userGrant, groupGrant map[[2]string]bool // (holder, doc)
	userProf, groupProf   map[string]bool
	member                map[[2]string]bool // (user, group)
}

func newAccessModel() *accessModel {
	return &accessModel{map[[2]string]bool{}, map[[2]string]bool{}, map[string]bool{}, map[string]bool{}, map[[2]string]bool{}}
}

func (m *accessModel) clone() *accessModel {
	c := newAccessModel()
	for k, v := range m.userGrant {
		c.userGrant[k] = v
	}
	for k, v := range m.groupGrant {
		c.groupGrant[k] = v
	}
	for k, v := range m.userProf {
		c.userProf[k] = v
	}
	for k, v := range m.groupProf {
		c.groupProf[k] = v
	}
	for k, v := range m.member {
		c.member[k] = v
	}
	return c
}

func (m *accessModel) allows(u, d string) bool {
	if m.userProf[u] || m.userGrant[[2]string{u, d}] {
		return true
	}
	for k := range m.member {
		if k[0] == u && (m.groupProf[k[1]] || m.groupGrant[[2]string{k[1], d}]) {
			return true
		}
	}
	return false
}

// randomChange picks a change, applies it to the model, and returns the
// helper's command for it and a question whose answer it may turn.
func (m *accessModel) randomChange(r *rand.Rand) (cmd, u, d string) {
	pick := func(prefix string, n int) string { return prefix + strconv.Itoa(r.IntN(n)) }
	u, g, d := pick("u", 100), pick("g", 10), pick("d", 100)
	// Mostly grants and memberships; profiles (which allow every document)
	// are rare and usually removed, so that most changes turn an answer.
	op := []int{0, 0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 4, 5, 5, 5, 7, 7, 8, 9, 9, 6}[r.IntN(21)]
	// A revoke or a leave takes back something held, so that the state
	// stays sparse and answers keep turning both ways.
	held := func(set map[[2]string]bool) ([2]string, bool) {
		for k, v := range set {
			if v && r.IntN(3) == 0 {
				return k, true
			}
		}
		for k, v := range set {
			if v {
				return k, true
			}
		}
		return [2]string{}, false
	}
	switch op {
	case 1:
		if k, ok := held(m.userGrant); ok {
			u, d = k[0], k[1]
		}
	case 3:
		if k, ok := held(m.groupGrant); ok {
			g, d = k[0], k[1]
		}
	case 9:
		if k, ok := held(m.member); ok {
			u, g = k[0], k[1]
		}
	}
	switch op {
	case 0, 1:
		m.userGrant[[2]string{u, d}] = op == 0
		return fmt.Sprintf("write %s user %s %s", []string{"grant", "revoke"}[op], u, d), u, d
	case 2, 3:
		m.groupGrant[[2]string{g, d}] = op == 2
		for k := range m.member {
			if k[1] == g {
				u = k[0]
			}
		}
		return fmt.Sprintf("write %s group %s %s", []string{"grant", "revoke"}[op-2], g, d), u, d
	case 4, 5:
		m.userProf[u] = op == 4
		return fmt.Sprintf("write %s user %s", []string{"profile", "unprofile"}[op-4], u), u, d
	case 6:
		m.groupProf[g] = r.IntN(5) == 0
		verb := "unprofile"
		if m.groupProf[g] {
			verb = "profile"
		}
		for k := range m.member {
			if k[1] == g {
				u = k[0]
			}
		}
		return fmt.Sprintf("write %s group %s", verb, g), u, d
	default:
		add := op < 9
		m.member[[2]string{u, g}] = add
		if !add {
			delete(m.member, [2]string{u, g})
		}
		for k, ok := range m.groupGrant {
			if ok && k[0] == g {
				d = k[1]
			}
		}
		return fmt.Sprintf("write %s %s %s", []string{"leave", "join"}[btoi(add)], u, g), u, d
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// replicaProc is one helper process and its pipes.
type replicaProc struct {
	cmd *exec.Cmd
	in  io.Writer
	out *bufio.Scanner
}

func (p *replicaProc) send(t *testing.T, format string, args ...any) {
	t.Helper()
	_, err := fmt.Fprintf(p.in, format+"\n", args...)
	require.NoError(t, err)
}

func (p *replicaProc) reply(t *testing.T) []string {
	t.Helper()
	for p.out.Scan() {
		f := strings.Fields(p.out.Text())
		if len(f) > 0 && f[0] == "error" {
			t.Fatalf("replica: %s", p.out.Text())
		}
		if len(f) > 0 {
			return f
		}
	}
	t.Fatalf("replica ended: %v", p.out.Err())
	return nil
}

// contract 16 and contract 16b: four replica processes over one PostgreSQL, each writing
// and checking. 10,000 random grant, revoke, profile and membership
// changes, each written by one replica and checked on the three others:
// with the write's token they answer as the model does, every time (the
// zero-stale-answer guarantee); without a token every change is seen
// everywhere, and the time from commit to the other replicas' answer is
// reported per replica, idle and with the receiving replicas' CPUs busy.
func TestReplicasConsistency(t *testing.T) {
	ctx := context.Background()
	dsn, ch := pgSchema(t)
	// Migrate once, before the replicas race to.
	s, err := iamsql.OpenPostgresWith(ctx, dsn, iamsql.Options{Channel: ch})
	require.NoError(t, err)
	require.NoError(t, s.Close())

	const n = 4
	procs := make([]*replicaProc, n)
	for i := range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestReplicaHelperProcess$", "-test.v=false")
		cmd.Env = append(os.Environ(), replicaEnv+"=1", "IAM_HELPER_DSN="+dsn, "IAM_HELPER_CHANNEL="+ch)
		cmd.Stderr = os.Stderr
		in, err := cmd.StdinPipe()
		require.NoError(t, err)
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		p := &replicaProc{cmd: cmd, in: in, out: bufio.NewScanner(out)}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		procs[i] = p
		require.Equal(t, "hello", p.reply(t)[0])
	}

	m := newAccessModel()
	r := rand.New(rand.NewPCG(16, 19))
	lat := map[string][][]time.Duration{"idle": make([][]time.Duration, n), "busy": make([][]time.Duration, n)}
	stale, tokenChecks := 0, 0
	phase := func(changes int, mode string) {
		for k := range changes {
			w := k % n
			before := m.clone()
			cmd, u, d := m.randomChange(r)
			want := m.allows(u, d)
			turned := before.allows(u, d) != want
			procs[w].send(t, "%s", cmd)
			f := procs[w].reply(t)
			require.Equal(t, "tok", f[0], "%v", f)
			tok, committed := f[1], f[2]
			for j, p := range procs {
				if j == w {
					continue
				}
				if mode == "token" {
					p.send(t, "tcheck %s %s %s %d", tok, u, d, btoi(want))
				} else {
					p.send(t, "wait %s %s %d %s", u, d, btoi(want), committed)
				}
			}
			for j, p := range procs {
				if j == w {
					continue
				}
				f := p.reply(t)
				switch f[0] {
				case "ok":
					tokenChecks++
				case "stale":
					tokenChecks++
					stale++
					t.Errorf("replica %d answered %s for %s on %s under the token of %q (want %v)", j, f[1], u, d, cmd, want)
				case "seen":
					ns, err := strconv.ParseInt(f[1], 10, 64)
					require.NoError(t, err)
					if turned { // an answer that did not change is seen at once
						lat[mode][j] = append(lat[mode][j], time.Duration(ns))
					}
				default:
					t.Fatalf("replica %d: %v", j, f)
				}
			}
		}
	}
	phase(5000, "token")
	require.Zero(t, stale, "stale answers under a token")
	t.Logf("with tokens: %d checks on other replicas right after each write, %d stale", tokenChecks, stale)
	phase(4000, "idle")
	for _, p := range procs {
		p.send(t, "burn")
	}
	phase(1000, "busy")
	for _, p := range procs {
		p.send(t, "calm")
		p.send(t, "stats")
	}
	for i, p := range procs {
		f := p.reply(t)
		require.Equal(t, "stats", f[0])
		t.Logf("replica %d: %s", i, strings.Join(f[1:], " "))
		p.send(t, "quit")
	}
	for _, mode := range []string{"idle", "busy"} {
		for j, l := range lat[mode] {
			slices.Sort(l)
			q := func(x float64) time.Duration { return l[int(x*float64(len(l)-1))] }
			t.Logf("without a token, %s: replica %d, %d changes that turned the answer: commit → answer p50 %v, p99 %v, max %v",
				mode, j, len(l), q(0.5), q(0.99), l[len(l)-1])
		}
	}
}

// TestReplicaHelperProcess is one replica of TestReplicasConsistency; run
// on its own it does nothing.
func TestReplicaHelperProcess(t *testing.T) {
	if os.Getenv(replicaEnv) != "1" {
		t.Skip("a replica of TestReplicasConsistency")
	}
	ctx := context.Background()
	say, fail, s, c := helperProcess()
	defer s.Close()
	// burn keeps every CPU of this process busy while it is on.
	var burning atomic.Bool
	var burners sync.WaitGroup
	say("hello")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "quit":
			burning.Store(false)
			burners.Wait()
			return
		case "burn":
			burning.Store(true)
			for range runtime.GOMAXPROCS(0) {
				burners.Go(func() {
					x := 0
					for burning.Load() {
						x++
					}
					_ = x
				})
			}
		case "calm":
			burning.Store(false)
			burners.Wait()
		case "stats":
			st := s.ListenerStats()
			say("stats notifications=%d catchups=%d logrows=%d dropall=%d applied=%d",
				st.Notifications, st.CatchUps, st.LogRows, st.DropAll, st.Applied)
		case "write":
			var werr error
			var tok iam.Token
			werr = s.Update(ctx, func(_ *sql.Tx, w *iamsql.Writer) error {
				var err error
				switch f[1] {
				case "grant", "revoke":
					g := iam.Grant{Holder: iam.User(f[3]), Perm: "doc.view", On: doc(f[4])}
					if f[2] == "group" {
						g.Holder = iam.Group(f[3])
					}
					if f[1] == "grant" {
						err = w.Grant(ctx, g)
					} else {
						err = w.Revoke(ctx, g)
					}
				case "profile", "unprofile":
					h := iam.User(f[3])
					if f[2] == "group" {
						h = iam.Group(f[3])
					}
					if f[1] == "profile" {
						err = w.PutProfile(ctx, iam.Profile{Holder: h, Role: "doc.viewer", Active: true})
					} else {
						err = w.DeleteProfile(ctx, h, "doc.viewer")
					}
				case "join":
					err = w.AddMember(ctx, f[2], f[3])
				case "leave":
					err = w.RemoveMember(ctx, f[2], f[3])
				}
				tok = w.Token()
				return err
			})
			if werr != nil {
				fail(werr)
			}
			say("tok %s %d", tok, time.Now().UnixNano())
		case "tcheck":
			got := c.HasPerm(iam.AtLeast(ctx, iam.Token(f[1])), user(f[2]), "doc.view", doc(f[3]))
			if got == (f[4] == "1") {
				say("ok")
			} else {
				say("stale %v", got)
			}
		case "wait":
			want := f[3] == "1"
			committed, _ := strconv.ParseInt(f[4], 10, 64)
			start := time.Now()
			for c.HasPerm(ctx, user(f[1]), "doc.view", doc(f[2])) != want {
				if time.Since(start) > livenessBound {
					fail(fmt.Errorf("%s on %s never became %v", f[1], f[2], want))
				}
				time.Sleep(50 * time.Microsecond)
			}
			say("seen %d", max(time.Now().UnixNano()-committed, 0))
		}
	}
}
