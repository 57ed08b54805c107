package iamsql_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamsql"
)

const (
	helperEnv      = "IAM_REVOCATION_HELPER"
	revocations    = 1000
	livenessBound  = 10 * time.Second // not a latency target: the cache TTL is an hour
	helperCacheTTL = time.Hour
)

// contract 16: two OS processes share one PostgreSQL. This process (A)
// revokes 1,000 times; the other (B, this test binary re-executed) measures
// how long after each committed revocation its own check denies. B's cache
// keeps entries for an hour, so only LISTEN/NOTIFY can make it deny.
func TestTwoProcessRevocation(t *testing.T) {
	ctx := context.Background()
	dsn, ch := pgSchema(t)
	a, err := iamsql.OpenPostgresWith(ctx, dsn, iamsql.Options{Channel: ch})
	require.NoError(t, err)
	defer a.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^TestRevocationHelperProcess$", "-test.v=false")
	cmd.Env = append(os.Environ(), helperEnv+"=1", "IAM_HELPER_DSN="+dsn, "IAM_HELPER_CHANNEL="+ch)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	in := bufio.NewScanner(stdout)
	expect := func(prefix string) []string {
		t.Helper()
		for in.Scan() {
			f := strings.Fields(in.Text())
			if len(f) > 0 && f[0] == prefix {
				return f
			}
			if len(f) > 0 && f[0] == "error" {
				t.Fatalf("helper process: %s", in.Text())
			}
		}
		t.Fatalf("helper process ended while waiting for %q: %v", prefix, in.Err())
		return nil
	}
	expect("hello")

	lat := make([]time.Duration, 0, revocations)
	for i := range revocations {
		g := iam.Grant{Holder: iam.User("ann"), Perm: "doc.view", On: doc(strconv.Itoa(i))}
		require.NoError(t, a.Grant(ctx, g))
		fmt.Fprintf(stdin, "check %d\n", i)
		expect("ready") // B has seen (and cached) the allow
		require.NoError(t, a.Revoke(ctx, g))
		committed := time.Now().UnixNano()
		fmt.Fprintf(stdin, "revoked %d\n", committed)
		f := expect("denied")
		ns, err := strconv.ParseInt(f[1], 10, 64)
		require.NoError(t, err)
		lat = append(lat, time.Duration(ns))
	}
	fmt.Fprintln(stdin, "quit")
	slices.Sort(lat)
	p := func(q float64) time.Duration { return lat[int(q*float64(len(lat)-1))] }
	t.Logf("revocation → denial in another process over %d revocations: p50 %v, p99 %v, max %v (docs/contract.md line 16: p99 ≤ 100ms)",
		len(lat), p(0.50), p(0.99), lat[len(lat)-1])
	if p(0.99) > 100*time.Millisecond {
		// Reported, not failed: timing on a shared 2-core machine is not a
		// unit-test property. Correctness (every revocation denied, with a
		// one-hour TTL) is asserted above.
		t.Logf("WARNING: p99 above the 100ms target")
	}
}

// helperProcess is the start of a helper process: its replies on stdout
// (say, and fail, which ends the process), and a Store (its cache keeps
// entries for an hour, so only notifications and the change log refresh
// it) with a Checker, on the database and channel its parent names.
func helperProcess() (say func(format string, args ...any), fail func(error), s *iamsql.Store, c *iam.Checker) {
	out := bufio.NewWriter(os.Stdout)
	say = func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...); out.Flush() }
	fail = func(err error) { say("error %v", strings.ReplaceAll(err.Error(), "\n", " ")); os.Exit(1) }
	s, err := iamsql.OpenPostgresWith(context.Background(), os.Getenv("IAM_HELPER_DSN"),
		iamsql.Options{CacheTTL: helperCacheTTL, Channel: os.Getenv("IAM_HELPER_CHANNEL")})
	if err != nil {
		fail(err)
	}
	if c, err = iam.New(policy, s); err != nil {
		fail(err)
	}
	return say, fail, s, c
}

// TestRevocationHelperProcess is process B of TestTwoProcessRevocation; run
// on its own it does nothing.
func TestRevocationHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("process B of TestTwoProcessRevocation")
	}
	ctx := context.Background()
	say, fail, s, c := helperProcess()
	defer s.Close()
	say("hello")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) == 0 || f[0] == "quit" {
			return
		}
		obj := doc(f[1])
		// Wait for the grant (a cold read, then cached).
		start := time.Now()
		for !c.HasPerm(ctx, user("ann"), "doc.view", obj) {
			if time.Since(start) > livenessBound {
				fail(fmt.Errorf("grant on %s never visible", obj))
			}
			time.Sleep(100 * time.Microsecond)
		}
		if s.Cache().Stats().Entries == 0 {
			fail(fmt.Errorf("nothing cached"))
		}
		say("ready")
		// Poll the cached allow until the revocation's NOTIFY lands.
		start = time.Now()
		for c.HasPerm(ctx, user("ann"), "doc.view", obj) {
			if time.Since(start) > livenessBound {
				fail(fmt.Errorf("revocation on %s never seen", obj))
			}
			time.Sleep(50 * time.Microsecond)
		}
		denied := time.Now().UnixNano()
		if !in.Scan() {
			return
		}
		g := strings.Fields(in.Text())
		committed, err := strconv.ParseInt(g[1], 10, 64)
		if err != nil {
			fail(err)
		}
		say("denied %d", max(denied-committed, 0))
	}
}
