// Command blog is the iam demo: a small blog whose authorization is checked
// in-process by iam, served as a JSON API.
//
//	go run ./examples/blog                 # serve on 127.0.0.1:8080 (SQLite file, seeded on first start)
//	go run ./examples/blog -tour           # run scripted requests against itself, print them, exit
//	go run ./examples/blog -dsn postgres://user:pw@127.0.0.1/blog   # PostgreSQL instead of SQLite
//
// The tour runs on a fresh temporary SQLite file. Given -dsn it runs on that
// database instead and empties it first, so it also needs -reset (without
// it, it refuses with exit status 2).
//
// Roles are profiles: alice and bob are authors (pen name, bio), erin
// edits the tech section (the sections are her Editor profile's data), mo
// moderates; the group staff holds the reader role and sam is in it; rita is
// a plain reader who reviews bob's draft (a local role on one post); root is
// a superuser; a request without credentials is the anonymous visitor.
// Public posts are visible to everyone (a rule), drafts to their owner, to
// editors of their section (a rule reading profile data), to staff and to
// the post's reviewers. Owners change their posts, editors any post in their
// sections; only editors publish; only the owner or a moderator deletes;
// owners and section editors choose a post's reviewers, through the
// Manager's anti-escalation rules.
//
// maria manages roles from the admin pages (iamadmin, under /admin/iam/),
// passing on only what she holds herself.
//
// On start it prints the users and passwords (HTTP basic auth), the access
// matrix (every user × action on two sample posts, and why; a sample post
// deleted since is skipped with a note), and curl commands to paste. The
// list endpoint is one SQL query: the app's own condition for the rule,
// ORed with iamsql.AccessFilter for what the store holds.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/iamgo/iam"
)

// options are the command line.
type options struct {
	addr  string
	dsn   string
	tour  bool
	reset bool
}

// errUsage marks a command line that cannot run: exit status 2.
var errUsage = errors.New("refused")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// cli runs the command line args and returns the exit status: 0, 1 when
// the demo fails, 2 for a command line it refuses.
func cli(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("blog", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen address")
	fs.StringVar(&o.dsn, "dsn", "", "PostgreSQL URL (postgres://...) or SQLite file path (other URLs are refused); default: blog.db in the user cache directory")
	fs.BoolVar(&o.tour, "tour", false, "run the scripted tour on a free port, then exit; on a fresh temporary SQLite file, or with -dsn on that database, which it empties first: -tour -dsn also needs -reset")
	fs.BoolVar(&o.reset, "reset", false, "empty the database and seed it again (deletes every post and every iam_ row in it); -tour -dsn requires it")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "blog: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	if err := run(ctx, stdout, o); err != nil {
		fmt.Fprintln(stderr, "blog:", err)
		if errors.Is(err, errUsage) {
			return 2
		}
		return 1
	}
	return 0
}

func run(ctx context.Context, out io.Writer, o options) error {
	if err := checkDSN(o.dsn); err != nil {
		return err
	}
	if o.tour && o.dsn != "" && !o.reset {
		return fmt.Errorf("%w: -tour -dsn %s would empty that database (every post and every iam_ row) before the tour; add -reset to confirm, or drop -dsn to tour a fresh temporary SQLite file",
			errUsage, redact(o.dsn))
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	var capture *captureHandler
	if o.tour {
		// The tour runs on a fresh database (a temporary file, or -dsn
		// emptied: -reset was given) and a free port, and reads the
		// server's log to show why each refused request was refused.
		capture = newCaptureHandler()
		log = slog.New(capture)
		o.addr, o.reset = "127.0.0.1:0", true
		if o.dsn == "" {
			dir, err := os.MkdirTemp("", "iam-blog-tour-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			o.dsn = filepath.Join(dir, "blog.db")
		}
	}
	if o.dsn == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			dir = os.TempDir()
		}
		dir = filepath.Join(dir, "iam-blog")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		o.dsn = filepath.Join(dir, "blog.db")
	}
	app, err := Open(ctx, o.dsn, log)
	if err != nil {
		return err
	}
	defer app.Close()
	seeded, err := app.Seed(ctx, o.reset)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "iam blog demo: %s store at %s", app.store.Dialect(), redact(o.dsn))
	if seeded {
		fmt.Fprint(out, " (seeded)")
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out)
	if err := app.PrintMatrix(ctx, out); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: app.Handler(), ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelError)}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	base := "http://" + ln.Addr().String()
	if o.tour {
		terr := Tour(ctx, out, app, base, capture)
		serr := srv.Shutdown(context.Background())
		return errors.Join(terr, serr)
	}
	printCurl(out, base)
	fmt.Fprintf(out, "admin pages: %s%s/ (sign in as maria / maria-pw, a role manager, or root / root-pw)\n", base, AdminPrefix)
	fmt.Fprintf(out, "listening on %s (Ctrl-C stops)\n", base)
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}

// checkDSN refuses a -dsn URL of a database the blog does not speak
// (mysql://...): without a check it would be taken for a SQLite file name.
func checkDSN(dsn string) error {
	scheme, _, ok := strings.Cut(dsn, "://")
	if !ok || strings.ContainsAny(scheme, `/\`) {
		return nil // a file path
	}
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql", "file":
		return nil
	}
	return fmt.Errorf("%w: -dsn %s: unsupported database %q (a postgres:// URL or a SQLite file path)", errUsage, redact(dsn), scheme)
}

// redact hides a password in a URL DSN.
func redact(dsn string) string {
	if i, j := strings.Index(dsn, "://"), strings.LastIndex(dsn, "@"); i >= 0 && j > i {
		return dsn[:i+3] + "…" + dsn[j:]
	}
	return dsn
}

// PrintMatrix prints the users and their passwords, then every user ×
// action on posts 1 (public) and 2 (alice's draft), allowed with the kind
// of reason or denied, and the full reason for a few cells. A sample post
// that is gone (deleted through the API) is skipped with a one-line note.
func (a *App) PrintMatrix(ctx context.Context, out io.Writer) error {
	noted := map[string]bool{}
	// post returns sample post id, or nil after a note if it is gone.
	post := func(id, indent string) (*Post, error) {
		p, err := a.Post(ctx, id)
		switch {
		case errors.Is(err, iam.ErrNotFound):
			if !noted[id] {
				noted[id] = true
				fmt.Fprintf(out, "%spost %s is not in the database (deleted?): skipped; -reset seeds the sample posts again\n", indent, id)
			}
			return nil, nil
		case err != nil:
			return nil, fmt.Errorf("post %s: %w", id, err)
		}
		return p, nil
	}
	fmt.Fprintln(out, "users (HTTP basic auth):")
	for _, u := range Users {
		fmt.Fprintf(out, "  %-8s password %-8s %s\n", u.ID, u.Password, u.Name)
	}
	fmt.Fprintln(out, "  (no credentials: anonymous)")
	fmt.Fprintln(out)
	subjects := append(append([]*User(nil), Users...), Anonymous)
	for _, id := range []string{"1", "2"} {
		p, err := post(id, "")
		if err != nil {
			return err
		}
		if p == nil {
			fmt.Fprintln(out)
			continue
		}
		fmt.Fprintf(out, "post %s %q (%s, owner %s, section %s)\n", p.ID, p.Title, p.Status, p.Owner, p.Section)
		w := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
		fmt.Fprint(w, "  user")
		for _, act := range Actions {
			fmt.Fprintf(w, "\t%s", short(act))
		}
		fmt.Fprintln(w)
		for _, u := range subjects {
			fmt.Fprintf(w, "  %s", u)
			for _, act := range Actions {
				d, err := a.checker.Check(ctx, u, act, p)
				switch {
				case err != nil:
					fmt.Fprint(w, "\tERROR")
				case d.Allowed:
					fmt.Fprintf(w, "\tallow (%s)", because(d))
				default:
					fmt.Fprint(w, "\tdeny")
				}
			}
			fmt.Fprintln(w)
		}
		w.Flush()
		fmt.Fprintln(out)
	}
	fmt.Fprintln(out, "why:")
	for _, q := range []struct {
		user, perm, post string
	}{
		{"sam", PermView, "2"},
		{"rita", PermView, "3"},
		{"erin", PermPublish, "2"},
		{"alice", PermPublish, "2"},
		{"mo", PermDelete, "1"},
		{"", PermView, "1"},
		{"", PermView, "2"},
	} {
		p, err := post(q.post, "  ")
		if err != nil {
			return err
		}
		if p == nil {
			continue
		}
		u := Anonymous
		if q.user != "" {
			u = userByID(q.user)
		}
		d, err := a.checker.Check(ctx, u, q.perm, p)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  %s on post %s: %s\n", u, p.ID, d)
	}
	fmt.Fprintln(out)
	return nil
}

// because names what allowed d in a few words: the reason, and for a rule
// its leaves that were true.
func because(d iam.Decision) string {
	if d.Reason != iam.ReasonRule {
		return d.Reason.String()
	}
	var held []string
	for _, l := range d.Leaves() {
		if l.Evaluated && l.Value {
			held = append(held, l.Name)
		}
	}
	return strings.Join(held, " & ")
}

func short(perm string) string { return perm[strings.LastIndex(perm, ".")+1:] }

func printCurl(out io.Writer, base string) {
	fmt.Fprintln(out, "try:")
	for _, c := range []string{
		"curl -s " + base + "/posts",
		"curl -s -u rita:rita-pw " + base + "/posts",
		"curl -s -u sam:sam-pw " + base + "/posts/2",
		"curl -s -i -u bob:bob-pw " + base + "/posts/2",
		"curl -s -u alice:alice-pw -X PUT -d '{\"title\":\"Go 1.26 is out\",\"body\":\"...\"}' " + base + "/posts/2",
		"curl -s -u erin:erin-pw -X POST " + base + "/posts/2/publish",
		"curl -s -u alice:alice-pw -X PUT " + base + "/posts/2/reviewers/rita",
		"curl -s -u erin:erin-pw " + base + "/posts/2/holders",
		"curl -s -i -u mo:mo-pw -X DELETE " + base + "/posts/4",
	} {
		fmt.Fprintln(out, "  "+c)
	}
	fmt.Fprintln(out)
}
