package main

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamadmin"
	"github.com/iamgo/iam/iamhttp"
	"github.com/iamgo/iam/iamsql"
)

type userKey struct{}

// challenge is the WWW-Authenticate header of every 401: the demo's users
// log in with HTTP basic auth.
const challenge = `Basic realm="iam blog"`

// Handler returns the blog's HTTP API:
//
//	GET    /posts                       the posts the caller may view (one SQL query)
//	POST   /posts                       create a draft                  blog.add_post
//	GET    /posts/{id}                  one post                        blog.view_post
//	PUT    /posts/{id}                  change title and body           blog.change_post
//	DELETE /posts/{id}                  delete (and its grants)         blog.delete_post
//	POST   /posts/{id}/publish          publish                         blog.publish_post
//	GET    /posts/{id}/holders          who holds what on the post      iam.manage_roles
//	PUT    /posts/{id}/reviewers/{user} grant the reviewer role         iam.manage_roles + Manager rules
//	DELETE /posts/{id}/reviewers/{user} revoke it                       iam.manage_roles + Manager rules
//
// Authentication is HTTP basic auth with the demo's users; no credentials
// is the anonymous visitor, wrong ones a 401. Every 401 carries the basic
// auth challenge. A database failure is a 503.
func (a *App) Handler() http.Handler {
	guard, err := iamhttp.New(iamhttp.Options{
		Checker:   a.checker,
		Subject:   func(r *http.Request) (iam.Subject, error) { return r.Context().Value(userKey{}).(*User), nil },
		Logger:    a.log,
		Challenge: challenge,
	})
	if err != nil {
		panic(err) // programming error: the options above are complete
	}
	load := a.loadPost
	mux := http.NewServeMux()
	mux.HandleFunc("GET /posts", a.listPosts)
	mux.Handle("POST /posts", guard.Require(PermAdd)(http.HandlerFunc(a.createPost)))
	mux.Handle("/posts/{id}", guard.ByMethod(map[string]string{
		"GET":    PermView,
		"PUT":    PermChange,
		"DELETE": PermDelete,
	}, load)(http.HandlerFunc(a.post)))
	mux.Handle("POST /posts/{id}/publish", guard.RequireObject(PermPublish, load)(http.HandlerFunc(a.publish)))
	mux.Handle("GET /posts/{id}/holders", guard.RequireObject(iam.PermManageRoles, load)(http.HandlerFunc(a.holders)))
	mux.Handle("/posts/{id}/reviewers/{user}", guard.ByMethod(map[string]string{
		"PUT":    iam.PermManageRoles,
		"DELETE": iam.PermManageRoles,
	}, load)(http.HandlerFunc(a.reviewer)))
	admin, err := iamadmin.New(a.checker, a.manager, iamadmin.Options{
		Subject:   func(r *http.Request) iam.Subject { return caller(r) },
		Challenge: func(w http.ResponseWriter, _ *http.Request) { w.Header().Set("WWW-Authenticate", challenge) },
		Prefix:    AdminPrefix,
		Directory: userDirectory{},
		Audit:     a.store,
		Requests:  a.requests,
		Logger:    a.log,
	})
	if err != nil {
		panic(err) // programming error: the options above are complete
	}
	mux.Handle(AdminPrefix+"/", admin)
	return a.authenticate(mux)
}

// AdminPrefix is where the admin pages (iamadmin) are mounted.
const AdminPrefix = "/admin/iam"

// The store's audit table is the admin pages' audit trail.
var _ iamadmin.AuditSource = (*iamsql.Store)(nil)

// userDirectory is the admin pages' view of the demo's users.
type userDirectory struct{}

func (userDirectory) Search(_ context.Context, query, after string, limit int) ([]iamadmin.Entry, error) {
	var out []iamadmin.Entry
	for _, u := range Users {
		p := iam.User(u.ID)
		if p.String() > after && (strings.Contains(u.ID, query) || strings.Contains(u.Name, query)) {
			out = append(out, iamadmin.Entry{Principal: p, Name: u.Name, Superuser: u.Super})
		}
	}
	slices.SortFunc(out, func(a, b iamadmin.Entry) int { return strings.Compare(a.Principal.String(), b.Principal.String()) })
	return out[:min(limit, len(out))], nil
}

func (userDirectory) Lookup(_ context.Context, id string) (iamadmin.Entry, iam.Subject, error) {
	if u := userByID(id); u != nil {
		return iamadmin.Entry{Principal: iam.User(id), Name: u.Name, Superuser: u.Super}, u, nil
	}
	return iamadmin.Entry{}, nil, nil
}

// loadPost is the guard's loader: the post named in the path, a "not found"
// (404), or a database failure wrapped in iamhttp.ErrUnavailable (503).
func (a *App) loadPost(r *http.Request) (iam.Object, error) {
	p, err := a.Post(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, iam.ErrNotFound):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("loading post %q: %w: %w", r.PathValue("id"), iamhttp.ErrUnavailable, err)
	}
	return p, nil
}

// authenticate puts the caller in the request context: the basic-auth user,
// or Anonymous without credentials. Wrong credentials are a 401.
func (a *App) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := Anonymous
		if name, pw, ok := r.BasicAuth(); ok {
			u = userByID(name)
			if u == nil || subtle.ConstantTimeCompare([]byte(pw), []byte(u.Password)) != 1 {
				w.Header().Set("WWW-Authenticate", challenge)
				iamhttp.DefaultDeny(w, r, http.StatusUnauthorized)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, u)))
	})
}

func caller(r *http.Request) *User { return r.Context().Value(userKey{}).(*User) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// fail answers an error the handler could not handle itself; the reason
// goes to the log, not to the client.
func (a *App) fail(w http.ResponseWriter, r *http.Request, status int, err error) {
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	a.log.LogAttrs(r.Context(), level, "blog: request failed",
		slog.Int("status", status), slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.String("request_id", r.Header.Get("X-Request-Id")),
		slog.String("subject", caller(r).ID), slog.String("reason", err.Error()))
	iamhttp.DefaultDeny(w, r, status)
}

func (a *App) listPosts(w http.ResponseWriter, r *http.Request) {
	posts, err := a.Visible(r.Context(), caller(r))
	if err != nil {
		a.fail(w, r, http.StatusServiceUnavailable, err)
		return
	}
	if posts == nil {
		posts = []*Post{}
	}
	writeJSON(w, http.StatusOK, posts)
}

type postInput struct {
	Title   string `json:"title"`
	Body    string `json:"body"`
	Section string `json:"section"`
}

func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func (a *App) createPost(w http.ResponseWriter, r *http.Request) {
	var in postInput
	if err := decode(r, &in); err != nil || in.Title == "" || in.Section == "" {
		a.fail(w, r, http.StatusBadRequest, errors.Join(errors.New("want JSON {title, body, section}"), err))
		return
	}
	ctx := r.Context()
	p := &Post{Owner: caller(r).ID, Section: in.Section, Title: in.Title, Body: in.Body, Status: "draft"}
	err := a.db.QueryRowContext(ctx, `INSERT INTO blog_posts (id, owner, section, title, body, status)
		SELECT CAST(COALESCE(MAX(CAST(id AS INTEGER)), 0) + 1 AS TEXT), `+a.ph(1)+`, `+a.ph(2)+`, `+a.ph(3)+`, `+a.ph(4)+`, 'draft'
		FROM blog_posts RETURNING id`, p.Owner, p.Section, p.Title, p.Body).Scan(&p.ID)
	if err != nil {
		a.fail(w, r, http.StatusServiceUnavailable, err)
		return
	}
	writeJSON(w, http.StatusCreated, p)
}

func loaded(r *http.Request) *Post {
	o, _ := iamhttp.ObjectFrom(r.Context())
	return o.(*Post)
}

// post serves GET, PUT and DELETE on one post (the guard checked the
// method's permission on it).
func (a *App) post(w http.ResponseWriter, r *http.Request) {
	p := loaded(r)
	ctx := r.Context()
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		writeJSON(w, http.StatusOK, p)
	case http.MethodPut:
		var in postInput
		if err := decode(r, &in); err != nil || in.Title == "" || (in.Section != "" && in.Section != p.Section) {
			a.fail(w, r, http.StatusBadRequest, errors.Join(errors.New("want JSON {title, body}; the section cannot change"), err))
			return
		}
		p.Title, p.Body = in.Title, in.Body
		if _, err := a.db.ExecContext(ctx, `UPDATE blog_posts SET title = `+a.ph(1)+`, body = `+a.ph(2)+` WHERE id = `+a.ph(3),
			p.Title, p.Body, p.ID); err != nil {
			a.fail(w, r, http.StatusServiceUnavailable, err)
			return
		}
		writeJSON(w, http.StatusOK, p)
	case http.MethodDelete:
		// The row and every grant on it go in one transaction (contract 18).
		err := a.store.Update(ctx, func(tx *sql.Tx, iw *iamsql.Writer) error {
			if _, err := tx.ExecContext(ctx, `DELETE FROM blog_posts WHERE id = `+a.ph(1), p.ID); err != nil {
				return err
			}
			return iw.DeleteGrantsOn(ctx, p.ObjectRef())
		})
		if err != nil {
			a.fail(w, r, http.StatusServiceUnavailable, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func (a *App) publish(w http.ResponseWriter, r *http.Request) {
	p := loaded(r)
	if _, err := a.db.ExecContext(r.Context(), `UPDATE blog_posts SET status = 'public' WHERE id = `+a.ph(1), p.ID); err != nil {
		a.fail(w, r, http.StatusServiceUnavailable, err)
		return
	}
	p.Status = "public"
	writeJSON(w, http.StatusOK, p)
}

type holderOut struct {
	Holder string   `json:"holder"`
	Perms  []string `json:"perms"`
	Paths  []string `json:"paths"`
}

func (a *App) holders(w http.ResponseWriter, r *http.Request) {
	p := loaded(r)
	var supers []string
	for _, u := range Users {
		if u.Super {
			supers = append(supers, u.ID)
		}
	}
	hl, err := a.checker.Holders(r.Context(), p, iam.HoldersOptions{ExpandGroups: true, Superusers: supers})
	if err != nil {
		a.fail(w, r, http.StatusServiceUnavailable, err)
		return
	}
	out := struct {
		Holders []holderOut `json:"holders"`
		Rules   []string    `json:"also_by_rule"`
	}{Holders: []holderOut{}, Rules: hl.Rules}
	for _, h := range hl.Holders {
		ho := holderOut{Holder: h.Principal.String(), Perms: h.Perms}
		for _, path := range h.Paths {
			s := path.Reason.String()
			if path.Role != "" {
				s += " " + path.Role
			}
			if path.Via != h.Principal {
				s += " via " + path.Via.String()
			}
			if path.On != iam.GlobalScope() && path.On != (iam.Ref{}) { // a superuser's is on nothing
				s += " on " + path.On.String()
			}
			ho.Paths = append(ho.Paths, s)
		}
		out.Holders = append(out.Holders, ho)
	}
	writeJSON(w, http.StatusOK, out)
}

// reviewer grants or revokes the reviewer role through the Manager, which
// refuses escalation (the actor must hold what the role gives, on this
// post) and self-changes, and audits the attempt.
func (a *App) reviewer(w http.ResponseWriter, r *http.Request) {
	p := loaded(r)
	target := r.PathValue("user")
	if userByID(target) == nil {
		a.fail(w, r, http.StatusNotFound, errors.New("no such user"))
		return
	}
	ch := iam.Change{Kind: iam.ChangeGrant, Object: p,
		Grant: iam.Grant{Holder: iam.User(target), Role: Reviewer.Name, On: p.ObjectRef()}}
	if r.Method == http.MethodDelete {
		ch.Kind = iam.ChangeRevoke
	}
	err := a.manager.Apply(r.Context(), caller(r), ch)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, map[string]string{"post": p.ID, "reviewer": target, "change": ch.Kind.String()})
	case errors.Is(err, iam.ErrNotManager), errors.Is(err, iam.ErrEscalation), errors.Is(err, iam.ErrSelfChange), errors.Is(err, iam.ErrProtected):
		a.fail(w, r, http.StatusForbidden, err)
	case errors.Is(err, iam.ErrInvalid):
		a.fail(w, r, http.StatusBadRequest, err)
	default:
		a.fail(w, r, http.StatusServiceUnavailable, err)
	}
}

// Actions lists the matrix's columns.
var Actions = []string{PermView, PermChange, PermPublish, PermDelete, iam.PermManageRoles}
