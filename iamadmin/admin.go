package iamadmin

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/internal/typednil"
)

// Options configure the admin handler. Subject is required; the zero value
// of every other field is valid.
type Options struct {
	// Subject returns the signed-in user of a request, as the application's
	// own authentication knows it. Nil (a typed nil too, such as a nil
	// *User) or an anonymous subject (SubjectID "") is answered 401, after
	// Challenge.
	Subject func(r *http.Request) iam.Subject
	// Challenge, if set, is called before a 401, to set the headers that
	// make a browser sign in (such as WWW-Authenticate).
	Challenge func(w http.ResponseWriter, r *http.Request)
	// Prefix is the path the handler is mounted under, such as
	// "/admin/iam" (mux.Handle("/admin/iam/", h)). "" mounts it at the root.
	Prefix string
	// CSRFKey signs the forms' CSRF tokens. Nil means a random key made by
	// New, so tokens do not survive a restart or reach another process;
	// set it (32 random bytes) when several processes serve the pages.
	CSRFKey []byte
	// Directory lists the application's users and groups. Without it,
	// principals are found through the store (holders of a role, members
	// of a group) and superusers cannot be hidden.
	Directory Directory
	// Audit, if set, is read by the audit page; an AuditLog is one (pass
	// its Record method as ManagerOptions.Audit).
	Audit AuditSource
	// Requests, if set, keeps the pending change requests the requests
	// page lists, approves and denies; a RequestLog is one.
	Requests RequestStore
	// PageSize is the length of a page of a list; zero means 50.
	PageSize int
	// Logger receives internal errors, which pages never show; nil means
	// slog.Default().
	Logger *slog.Logger
}

// Directory is the application's list of users and groups.
type Directory interface {
	// Search returns up to limit principals whose ID or name contains
	// query ("" matches all), in the order of Principal.String, after the
	// principal whose String is after ("" for the first page).
	Search(ctx context.Context, query, after string, limit int) ([]Entry, error)
	// Lookup returns the entry of the user id and the application's
	// subject for it, as the checker sees that user's requests (a nil
	// subject for an unknown user). Explain and effective permissions use
	// the subject.
	Lookup(ctx context.Context, id string) (Entry, iam.Subject, error)
}

// Entry is one principal of a Directory.
type Entry struct {
	Principal iam.Principal
	Name      string // shown beside the ID; may be ""
	// Superuser marks a user only superusers may see.
	Superuser bool
}

// Handler serves the admin pages. It is safe for concurrent use.
type Handler struct {
	c    *iam.Checker
	m    *iam.Manager
	o    Options
	key  []byte
	mux  *http.ServeMux
	tmpl *template.Template
	log  *slog.Logger
}

// New returns the admin handler over checker c and manager m, which must
// be built over the same store. Every write it makes goes through m with
// the signed-in actor.
func New(c *iam.Checker, m *iam.Manager, o Options) (*Handler, error) {
	switch {
	case c == nil || m == nil:
		return nil, errors.New("iamadmin: New needs a Checker and a Manager")
	case o.Subject == nil:
		return nil, errors.New("iamadmin: Options.Subject is required: the pages must know who is signed in")
	case o.Prefix != "" && (!strings.HasPrefix(o.Prefix, "/") || strings.HasSuffix(o.Prefix, "/")):
		return nil, fmt.Errorf("iamadmin: Options.Prefix %q must start with / and not end with one", o.Prefix)
	}
	h := &Handler{c: c, m: m, o: o, key: o.CSRFKey, log: o.Logger}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.o.PageSize <= 0 {
		h.o.PageSize = 50
	}
	if len(h.key) == 0 {
		h.key = make([]byte, 32)
		if _, err := rand.Read(h.key); err != nil {
			return nil, fmt.Errorf("iamadmin: making a CSRF key: %w", err)
		}
	}
	t, err := parseTemplates(h)
	if err != nil {
		return nil, err
	}
	h.tmpl = t
	h.mux = http.NewServeMux()
	h.routes()
	return h, nil
}

// ServeHTTP implements http.Handler. Every response carries a strict
// Content-Security-Policy and is not cached; every page needs a signed-in
// actor (401) who may manage roles or grants, or is a superuser (403);
// every POST needs the actor's CSRF token (403).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Frame-Options", "DENY")
	path, ok := strings.CutPrefix(r.URL.Path, h.o.Prefix)
	if ok && path == "" && r.Method == http.MethodGet {
		http.Redirect(w, r, h.o.Prefix+"/", http.StatusMovedPermanently)
		return
	}
	if !ok || !strings.HasPrefix(path, "/") {
		http.NotFound(w, r)
		return
	}
	if path == "/static/admin.css" && r.Method == http.MethodGet {
		hd.Set("Content-Type", "text/css; charset=utf-8")
		_, _ = w.Write(adminCSS)
		return
	}
	actor := h.o.Subject(r)
	if typednil.Is(actor) {
		actor = nil // a failed lookup's nil *User: nobody is signed in
	}
	if actor == nil || actor.SubjectID() == "" {
		if h.o.Challenge != nil {
			h.o.Challenge(w, r)
		}
		h.fail(w, r, http.StatusUnauthorized, "Sign in to manage roles and permissions.")
		return
	}
	if !h.mayManage(r.Context(), actor) {
		h.fail(w, r, http.StatusForbidden, "You may not manage roles or permissions.")
		return
	}
	if r.Method == http.MethodPost {
		if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
			// A browser says another site sent the form: refused before
			// the token is even read.
			h.fail(w, r, http.StatusForbidden, "The form did not come from this site.")
			return
		}
		if err := r.ParseForm(); err != nil {
			h.fail(w, r, http.StatusBadRequest, "The form could not be read.")
			return
		}
		if !hmac.Equal([]byte(r.PostForm.Get("csrf")), []byte(h.csrf(actor))) {
			h.fail(w, r, http.StatusForbidden, "The form has expired or did not come from this site. Reload the page and try again.")
			return
		}
	}
	r2 := r.Clone(context.WithValue(r.Context(), actorKey{}, actor))
	r2.URL.Path = path
	h.mux.ServeHTTP(w, r2)
}

type actorKey struct{}

func actorOf(r *http.Request) iam.Subject { return r.Context().Value(actorKey{}).(iam.Subject) }

// mayManage: deny by default. Only a signed-in subject that holds
// iam.manage_roles or iam.manage_grants (a superuser holds both) sees any
// page; the Manager then judges each change on its own.
func (h *Handler) mayManage(ctx context.Context, actor iam.Subject) bool {
	return h.c.HasPerm(ctx, actor, iam.PermManageRoles, nil) || h.c.HasPerm(ctx, actor, iam.PermManageGrants, nil)
}

// isSuperuser reports whether the subject says it is an active superuser.
func isSuperuser(s iam.Subject) bool {
	if s == nil || s.SubjectID() == "" {
		return false
	}
	if a, ok := s.(interface{ IsActive() bool }); ok && !a.IsActive() {
		return false
	}
	su, ok := s.(interface{ IsSuperuser() bool })
	return ok && su.IsSuperuser()
}

// csrf is the actor's token: an HMAC of its ID, so a page from another
// site cannot know it and no cookie or server state is needed.
func (h *Handler) csrf(actor iam.Subject) string {
	mac := hmac.New(sha256.New, h.key)
	mac.Write([]byte("iamadmin csrf\x00" + actor.SubjectID()))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// url builds a link under the prefix.
func (h *Handler) url(path string, q url.Values) string {
	u := h.o.Prefix + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// refusal maps an error of a check or a change to what the page says and
// its status: the Manager's refusals and bad input are shown as they are
// (they name roles and permissions the actor asked about), anything else
// is an internal error, logged and not shown.
func (h *Handler) refusal(ctx context.Context, path string, err error) (int, string) {
	switch {
	case errors.Is(err, iam.ErrNotManager), errors.Is(err, iam.ErrEscalation), errors.Is(err, iam.ErrSelfChange),
		errors.Is(err, iam.ErrProtected), errors.Is(err, iam.ErrLastHolder):
		return http.StatusForbidden, "Refused: " + err.Error()
	case errors.Is(err, iam.ErrInvalid), errors.Is(err, iam.ErrUnknownPermission), errors.Is(err, iam.ErrWrongType),
		errors.Is(err, iam.ErrNotFound):
		return http.StatusBadRequest, "Not accepted: " + err.Error()
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, "The request was cancelled or timed out."
	}
	h.log.ErrorContext(ctx, "iamadmin: internal error", "path", path, "error", err)
	return http.StatusServiceUnavailable, "The store could not be reached. Try again later."
}
