package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamadmin"
	"github.com/iamgo/iam/iamsql"
)

// User is the application's user. Anonymous visitors are a User with an
// empty ID, so rules typed on *User see them too.
type User struct {
	ID       string
	Name     string
	Password string
	Super    bool
}

// SubjectID implements iam.Subject.
func (u *User) SubjectID() string { return u.ID }

// IsSuperuser implements the optional superuser interface.
func (u *User) IsSuperuser() bool { return u.Super }

func (u *User) String() string {
	if u.ID == "" {
		return "anonymous"
	}
	return u.Name
}

// Post is a blog post in a section; a draft until published.
type Post struct {
	ID      string `json:"id"`
	Owner   string `json:"owner"`
	Section string `json:"section"`
	Title   string `json:"title"`
	Body    string `json:"body"`
	Status  string `json:"status"` // "draft" or "public"
}

// ObjectRef implements iam.Object.
func (p *Post) ObjectRef() iam.Ref { return iam.Ref{Type: "blog.post", ID: p.ID} }

// AuthorProfile is the data an author's profile carries.
type AuthorProfile struct {
	PenName string `json:"pen_name"`
	Bio     string `json:"bio"`
}

// EditorProfile is the data an editor's profile carries.
type EditorProfile struct {
	Sections []string `json:"sections"`
}

// The permissions of the blog.
const (
	PermView    = "blog.view_post"
	PermAdd     = "blog.add_post"
	PermChange  = "blog.change_post"
	PermPublish = "blog.publish_post"
	PermDelete  = "blog.delete_post"
)

// Roles of the blog. Author, Editor and Moderator are held through
// profiles; Reader is the staff group's global role; Reviewer is a local
// role on one post.
var (
	Author    = &iam.Role{Name: "blog.author", Perms: []string{PermAdd}}
	Editor    = &iam.Role{Name: "blog.editor", Perms: []string{PermAdd}}
	Moderator = &iam.Role{Name: "blog.moderator"}
	Reader    = &iam.Role{Name: "blog.reader", Perms: []string{PermView}}
	Reviewer  = &iam.Role{Name: "blog.reviewer", Perms: []string{PermView}}
	// RoleManager runs the admin pages: she manages roles everywhere, and
	// may pass on only what she holds herself (reading posts).
	RoleManager = &iam.Role{Name: "blog.role_manager", Perms: []string{iam.PermManageRoles, PermView}}
)

// Policy returns the blog's authorization model: roles are profiles, rules
// read the post and the editor's profile data.
func Policy() iam.Policy {
	isOwner := iam.Pred("is_owner", func(_ context.Context, u *User, p *Post) bool {
		return u != nil && p != nil && u.ID != "" && p.Owner == u.ID
	})
	isPublic := iam.Pred("is_public", func(_ context.Context, _ *User, p *Post) bool {
		return p != nil && p.Status == "public"
	})
	editsSection := iam.PredProfile("edits_section", Editor, func(_ context.Context, _ *User, p *Post, d EditorProfile) bool {
		return p != nil && slices.Contains(d.Sections, p.Section)
	})
	post := []string{"blog.post"}
	return iam.Policy{
		Roles: []*iam.Role{Author, Editor, Moderator, Reader, Reviewer, RoleManager},
		Perms: []iam.Perm{
			{Name: PermView, Types: post},
			{Name: PermAdd, Types: post},
			{Name: PermChange, Types: post},
			{Name: PermPublish, Types: post},
			{Name: PermDelete, Types: post},
			{Name: iam.PermManageRoles},
		},
		Rules: map[string]iam.Predicate{
			// Public posts are visible to everyone; drafts to their owner
			// and to editors of their section (and, through stored
			// roles, to reviewers of the post and to staff).
			PermView: iam.Or(isPublic, isOwner, editsSection),
			// Authors change their own posts, editors any post in their
			// sections.
			PermChange: iam.Or(iam.And(iam.HasRole(Author), isOwner), editsSection),
			// Only editors publish.
			PermPublish: editsSection,
			// Only the owner or a moderator deletes.
			PermDelete: iam.Or(isOwner, iam.HasRole(Moderator)),
			// Owners and section editors choose a post's reviewers.
			iam.PermManageRoles: iam.Or(isOwner, editsSection),
		},
	}
}

// Users are the demo's accounts (HTTP basic auth), plus Anonymous.
var Users = []*User{
	{ID: "alice", Name: "alice (author)", Password: "alice-pw"},
	{ID: "bob", Name: "bob (author)", Password: "bob-pw"},
	{ID: "erin", Name: "erin (editor: tech)", Password: "erin-pw"},
	{ID: "mo", Name: "mo (moderator)", Password: "mo-pw"},
	{ID: "sam", Name: "sam (staff)", Password: "sam-pw"},
	{ID: "rita", Name: "rita (reader)", Password: "rita-pw"},
	{ID: "maria", Name: "maria (role manager)", Password: "maria-pw"},
	{ID: "root", Name: "root (superuser)", Password: "root-pw", Super: true},
}

// Anonymous is the visitor without credentials.
var Anonymous = &User{}

func userByID(id string) *User {
	for _, u := range Users {
		if u.ID == id {
			return u
		}
	}
	return nil
}

// App is the blog: its database, the iam store over the same database, the
// checker and the manager.
type App struct {
	store   *iamsql.Store
	db      *sql.DB
	checker *iam.Checker
	manager *iam.Manager
	// requests are the admin pages' pending change requests (kept in
	// memory: a real application would keep them in a table).
	requests *iamadmin.RequestLog
	log      *slog.Logger
}

// Open opens the blog on dsn: a PostgreSQL URL (postgres://...) or a
// SQLite file path. It creates the tables it needs.
func Open(ctx context.Context, dsn string, log *slog.Logger) (*App, error) {
	var (
		store *iamsql.Store
		err   error
	)
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		store, err = iamsql.OpenPostgresWith(ctx, dsn, iamsql.DefaultOptions())
	} else {
		store, err = iamsql.OpenSQLiteWith(ctx, dsn, iamsql.DefaultOptions())
	}
	if err != nil {
		return nil, err
	}
	checker, err := iam.New(Policy(), store)
	if err != nil {
		store.Close()
		return nil, err
	}
	a := &App{store: store, db: store.DB(), checker: checker, log: log, requests: &iamadmin.RequestLog{}}
	a.manager = iam.NewManager(checker, iam.ManagerOptions{
		Logger: log,
		Audit:  store.AuditHook(), // the admin pages' audit trail
		// The Manager judges a change on a post on the post itself (its
		// owner and section rules), loaded here when a change does not
		// carry it (an approval never trusts the requester's copy).
		Object: func(ctx context.Context, ref iam.Ref) (iam.Object, error) {
			if ref.Type != "blog.post" {
				return nil, nil
			}
			p, err := a.Post(ctx, ref.ID)
			if errors.Is(err, errNoPost) {
				return nil, nil
			}
			return p, err
		},
		// Posts have no children: what an editor holds on a post by a
		// rule of her section holds on everything a grant on it reaches.
		Children: func(context.Context, iam.Ref) ([]iam.Object, error) { return nil, nil },
	})
	if _, err := a.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS blog_posts (
		id      TEXT PRIMARY KEY,
		owner   TEXT NOT NULL,
		section TEXT NOT NULL,
		title   TEXT NOT NULL,
		body    TEXT NOT NULL,
		status  TEXT NOT NULL CHECK (status IN ('draft', 'public')))`); err != nil {
		store.Close()
		return nil, fmt.Errorf("creating blog_posts: %w", err)
	}
	return a, nil
}

// Close closes the store and its database.
func (a *App) Close() error { return a.store.Close() }

// ph returns the n-th placeholder in the database's syntax.
func (a *App) ph(n int) string {
	if a.store.Dialect() == iamsql.Postgres {
		return "$" + strconv.Itoa(n)
	}
	return "?" + strconv.Itoa(n)
}

// SamplePosts are seeded on first start.
var SamplePosts = []*Post{
	{ID: "1", Owner: "alice", Section: "tech", Title: "Hello, iam", Body: "Public post in tech.", Status: "public"},
	{ID: "2", Owner: "alice", Section: "tech", Title: "Draft: Go 1.26", Body: "A draft in tech.", Status: "draft"},
	{ID: "3", Owner: "bob", Section: "life", Title: "Draft: gardening", Body: "A draft in life.", Status: "draft"},
	{ID: "4", Owner: "bob", Section: "life", Title: "Spring", Body: "Public post in life.", Status: "public"},
}

// Seed fills an empty blog (or, with reset, empties it first): the posts,
// the profiles (author data, editor sections), the staff group's reader
// role, sam's membership and rita's reviewer role on bob's draft. It writes
// through the trusted path (Checker.AssignRole and Grant), in one
// transaction with the posts.
func (a *App) Seed(ctx context.Context, reset bool) (seeded bool, err error) {
	if !reset {
		var n int
		if err := a.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM blog_posts`).Scan(&n); err != nil {
			return false, err
		}
		if n > 0 {
			return false, nil
		}
	}
	err = a.store.Update(ctx, func(tx *sql.Tx, w *iamsql.Writer) error {
		if reset {
			for _, table := range []string{"blog_posts", "iam_grants", "iam_profiles", "iam_members", "iam_parents"} {
				if _, err := tx.ExecContext(ctx, "DELETE FROM "+table); err != nil {
					return err
				}
			}
		}
		for _, p := range SamplePosts {
			if _, err := tx.ExecContext(ctx, `INSERT INTO blog_posts (id, owner, section, title, body, status) VALUES (`+
				a.ph(1)+`, `+a.ph(2)+`, `+a.ph(3)+`, `+a.ph(4)+`, `+a.ph(5)+`, `+a.ph(6)+`)`,
				p.ID, p.Owner, p.Section, p.Title, p.Body, p.Status); err != nil {
				return err
			}
		}
		for _, p := range []iam.Profile{
			{Holder: iam.User("alice"), Role: Author.Name, Active: true, Data: []byte(`{"pen_name":"A. Writer","bio":"Writes about Go."}`)},
			{Holder: iam.User("bob"), Role: Author.Name, Active: true, Data: []byte(`{"pen_name":"Bob G.","bio":"Gardens."}`)},
			{Holder: iam.User("erin"), Role: Editor.Name, Active: true, Data: []byte(`{"sections":["tech"]}`)},
			{Holder: iam.User("mo"), Role: Moderator.Name, Active: true},
			{Holder: iam.Group("staff"), Role: Reader.Name, Active: true},
			{Holder: iam.User("maria"), Role: RoleManager.Name, Active: true},
		} {
			if err := w.PutProfile(ctx, p); err != nil {
				return err
			}
		}
		if err := w.AddMember(ctx, "sam", "staff"); err != nil {
			return err
		}
		return w.Grant(ctx, iam.Grant{Holder: iam.User("rita"), Role: Reviewer.Name, On: iam.Ref{Type: "blog.post", ID: "3"}})
	})
	if err != nil {
		return false, fmt.Errorf("seeding: %w", err)
	}
	if reset && a.store.Cache() != nil {
		// The deletes above bypassed the Writer: drop this process's
		// cache (a reset is for a demo database with one server).
		a.store.Cache().InvalidateAll()
	}
	return true, nil
}

// errNoPost is the loader's "not found".
var errNoPost = fmt.Errorf("no such post: %w", iam.ErrNotFound)

// Post loads one post.
func (a *App) Post(ctx context.Context, id string) (*Post, error) {
	p := &Post{}
	err := a.db.QueryRowContext(ctx, `SELECT id, owner, section, title, body, status FROM blog_posts WHERE id = `+a.ph(1), id).
		Scan(&p.ID, &p.Owner, &p.Section, &p.Title, &p.Body, &p.Status)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoPost
	}
	return p, err
}

// Visible lists the posts u may view, in one SQL query: the rule's part
// (public, own, the sections u edits) is written in SQL by the app, the
// stored part (reviewer roles, staff, superusers) comes from
// iamsql.AccessFilter. Each row is then checked in-process (iam.Filter,
// nanoseconds a post), so the list can never show more than GET allows.
func (a *App) Visible(ctx context.Context, u *User) ([]*Post, error) {
	sections, err := a.editorSections(ctx, u)
	if err != nil {
		return nil, err
	}
	where := "status = 'public' OR owner = " + a.ph(1)
	args := []any{u.ID}
	if len(sections) > 0 {
		var in []string
		for _, s := range sections {
			args = append(args, s)
			in = append(in, a.ph(len(args)))
		}
		where += " OR section IN (" + strings.Join(in, ", ") + ")"
	}
	f, err := iamsql.AccessFilter(ctx, a.checker, u, PermView,
		iamsql.FilterOptions{Type: "blog.post", Column: "id", FirstArg: len(args) + 1})
	if err != nil {
		return nil, err
	}
	where += " OR " + f.SQL
	args = append(args, f.Args...)
	rows, err := a.db.QueryContext(ctx, `SELECT id, owner, section, title, body, status FROM blog_posts WHERE `+where+
		` ORDER BY CAST(id AS INTEGER)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var posts []*Post
	for rows.Next() {
		p := &Post{}
		if err := rows.Scan(&p.ID, &p.Owner, &p.Section, &p.Title, &p.Body, &p.Status); err != nil {
			return nil, err
		}
		posts = append(posts, p)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return iam.Filter(ctx, a.checker, u, PermView, posts)
}

// editorSections returns the sections u edits (a live Editor profile).
func (a *App) editorSections(ctx context.Context, u *User) ([]string, error) {
	if u.ID == "" {
		return nil, nil
	}
	h, err := a.store.Holding(ctx, iam.User(u.ID))
	if err != nil {
		return nil, err
	}
	p, ok := h.Profile(Editor.Name)
	if !ok || !p.Live(time.Now()) {
		return nil, nil
	}
	d, err := iam.ProfileData[EditorProfile](p)
	return d.Sections, err
}
