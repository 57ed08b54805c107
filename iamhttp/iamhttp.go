// Package iamhttp guards net/http handlers with an iam.Checker: middleware
// in the func(http.Handler) http.Handler shape, usable with the standard
// ServeMux, chi and any router that takes that shape (docs/contract.md line 20).
//
//	guard, err := iamhttp.New(iamhttp.Options{Checker: checker, Subject: currentUser})
//	mux.Handle("GET /posts", guard.Require("blog.view_post")(listPosts))
//	mux.Handle("/posts/{id}", guard.ByMethod(map[string]string{
//		"GET": "blog.view_post", "PUT": "blog.change_post", "DELETE": "blog.delete_post",
//	}, loadPost)(postHandler))
//
// Deny by default: a rule with no permission, an undeclared permission or a
// nil loader is a programming error and panics when the middleware is built
// (at start-up), never an open route. At request time: an anonymous request
// that is denied gets 401 (with WWW-Authenticate when Options.Challenge is
// set), an authenticated one 403, an object the loader does not find 404, a
// method missing from a ByMethod map 405 (with Allow), a store or subject
// failure 503 (a loader reports its store's failure by wrapping
// ErrUnavailable), any other loader error (a loader that panics too) or a
// checker fault 500. A route over several permissions answers as a rule's
// Or and And would: RequireAny allows when one permission allows though
// another's check failed, RequireAll is a 403 when one is denied though
// another's check failed. With
// Options.HideForbidden, a denial on a route with a loader is a 404 too, so
// that probing IDs does not tell which objects exist. A typed nil (an
// interface holding a nil pointer) from the subject function is the
// anonymous subject, from a loader a missing object. The body never says
// why (a generic status text, JSON when the client accepts it); the reason
// goes to the slog logger with the subject, permission, object, decision
// and request ID. The deny handler is replaceable.
//
// Routing is the router's job: the middleware guards whatever handler the
// router chose, so unclean paths (//posts/1, /posts/../admin, %2e%2e) are
// resolved, redirected or rejected by the router before any rule runs.
//
// Each permission of a request is asked once, with Checker.Decide:
// answered by the checker's answer cache once warm, and for a refusal the
// Decision or the error that goes to the log.
//
// A Guard is safe for concurrent use.
package iamhttp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/internal/typednil"
)

// Anonymous is the subject of a request for which Options.Subject returned
// nil: it holds no stored roles or grants (docs/contract.md line 6), but rules may
// allow it.
var Anonymous iam.Subject = anonymousSubject{}

type anonymousSubject struct{}

func (anonymousSubject) SubjectID() string { return "" }

// ErrNotFound is what a Loader returns (possibly wrapped) when the request
// names no existing object: the response is 404. iam.ErrNotFound works too.
var ErrNotFound = errors.New("iamhttp: object not found")

// ErrUnavailable is what a Loader wraps when the store behind it failed (the
// database is down, a query timed out), as opposed to a bug or a bad
// request: the response is 503, like a failure of the iam store (docs/contract.md
// line 20). Any other loader error is a 500.
//
//	if err != nil && !errors.Is(err, sql.ErrNoRows) {
//		return nil, fmt.Errorf("%w: %w", iamhttp.ErrUnavailable, err)
//	}
var ErrUnavailable = errors.New("iamhttp: store unavailable")

// Loader returns the object a request is about (for object-level checks).
// A "not found" is ErrNotFound (404), a store failure wraps ErrUnavailable
// (503); a nil object, or an interface holding a nil pointer, is a 404.
type Loader func(r *http.Request) (iam.Object, error)

// Options configure a Guard.
type Options struct {
	// Checker decides; required.
	Checker *iam.Checker
	// Subject returns the request's authenticated subject, or nil for an
	// anonymous request (the application owns authentication); required.
	// A typed nil (a nil *User in an iam.Subject) is anonymous too.
	// An error (the session store is down) is a 503. A nil subject is
	// checked as Anonymous (SubjectID ""): rules written on iam.Subject see
	// Anonymous, and a rule typed on the application's user type (iam.Pred
	// with a *User subject) gets that type's zero value, with a pointer type
	// nil, so one rule decides for users and visitors alike
	// (docs/contract.md line 11). Any subject with SubjectID "" is
	// anonymous: it holds nothing stored, is never a superuser, and its
	// denials are 401 (404 where HideForbidden hides them).
	Subject func(r *http.Request) (iam.Subject, error)
	// Logger receives one record per denial or failure; nil means
	// slog.Default().
	Logger *slog.Logger
	// RequestID returns the request's ID for the log; nil: the
	// X-Request-Id header.
	RequestID func(r *http.Request) string
	// Deny writes a refusal with the given status; nil means DefaultDeny.
	// It must not reveal why.
	Deny func(w http.ResponseWriter, r *http.Request, status int)
	// Challenge, if set, is the WWW-Authenticate header of every 401 the
	// Guard sends (RFC 9110 requires one), e.g. `Basic realm="blog"`; it is
	// set before Deny runs. Empty: no header (the zero value suits an API
	// whose clients authenticate out of band). New refuses one with a
	// control character.
	Challenge string
	// HideForbidden, when true, answers every denial on a route with a
	// Loader (RequireObject, ByMethod with a loader, a Rule with one) with
	// 404, exactly as if the loader had not found the object: same status,
	// same Deny call, no WWW-Authenticate, for anonymous and authenticated
	// requests alike. Without it, a caller who may not see an object
	// learns that it exists (401 or 403 for an existing ID, 404 for a
	// missing one); with it, "exists but forbidden" and "does not exist"
	// look the same (GitHub answers private repositories this way, and
	// django-guardian's return_404). The log still records the real reason
	// ("denied: ...") with the status the denial would have had as
	// hidden_status. The price: a visitor is never challenged to sign in on
	// such a route, and a user who may view an object but not change it
	// gets 404 for the change. Model-level routes, 405s and failures (503,
	// 500) are answered as without it. Zero value: denials are 401 and 403.
	HideForbidden bool
}

// Guard builds middleware from rules.
type Guard struct {
	c         *iam.Checker
	subject   func(*http.Request) (iam.Subject, error)
	log       *slog.Logger
	reqID     func(*http.Request) string
	deny      func(http.ResponseWriter, *http.Request, int)
	challenge string
	hide      bool
}

// New returns a Guard; it fails if Checker or Subject is missing or
// Challenge is not a valid header value.
func New(o Options) (*Guard, error) {
	if o.Checker == nil || o.Subject == nil {
		return nil, errors.New("iamhttp: Options.Checker and Options.Subject are required")
	}
	if strings.ContainsFunc(o.Challenge, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
		return nil, fmt.Errorf("iamhttp: Options.Challenge %q has a control character", o.Challenge)
	}
	g := &Guard{c: o.Checker, subject: o.Subject, log: o.Logger, reqID: o.RequestID, deny: o.Deny, challenge: o.Challenge, hide: o.HideForbidden}
	if g.log == nil {
		g.log = slog.Default()
	}
	if g.reqID == nil {
		g.reqID = func(r *http.Request) string { return r.Header.Get("X-Request-Id") }
	}
	if g.deny == nil {
		g.deny = DefaultDeny
	}
	return g, nil
}

// Rule is what a route requires.
type Rule struct {
	// Perms are the permissions checked; at least one.
	Perms []string
	// Any: one of Perms suffices (default: all of them are required).
	Any bool
	// Loader, if set, loads the object and the check is object-level.
	Loader Loader
}

// Require guards a model-level route with one permission.
func (g *Guard) Require(perm string) func(http.Handler) http.Handler {
	return g.Protect(Rule{Perms: []string{perm}})
}

// RequireObject guards a route about one object, which loader finds.
func (g *Guard) RequireObject(perm string, loader Loader) func(http.Handler) http.Handler {
	if loader == nil {
		panic("iamhttp: RequireObject needs a loader")
	}
	return g.Protect(Rule{Perms: []string{perm}, Loader: loader})
}

// RequireAll guards a model-level route with every one of perms.
func (g *Guard) RequireAll(perms ...string) func(http.Handler) http.Handler {
	return g.Protect(Rule{Perms: perms})
}

// RequireAny guards a model-level route with any one of perms.
func (g *Guard) RequireAny(perms ...string) func(http.Handler) http.Handler {
	return g.Protect(Rule{Perms: perms, Any: true})
}

// ByMethod guards a route with one permission per HTTP method (GET →
// view, PUT → change, ...); a method missing from the map gets 405. loader
// may be nil for model-level routes. HEAD uses GET's permission when HEAD
// is not in the map. A 405 lists the methods served in Allow (HEAD too when
// GET is in the map).
func (g *Guard) ByMethod(perms map[string]string, loader Loader) func(http.Handler) http.Handler {
	if len(perms) == 0 {
		panic("iamhttp: ByMethod needs at least one method")
	}
	rules := make(map[string]func(http.Handler) http.Handler, len(perms))
	for m, p := range perms {
		if m == "" || strings.ToUpper(m) != m {
			panic(fmt.Sprintf("iamhttp: method %q must be upper case", m))
		}
		rules[m] = g.Protect(Rule{Perms: []string{p}, Loader: loader})
	}
	if _, ok := rules[http.MethodHead]; !ok {
		if get, ok := rules[http.MethodGet]; ok {
			rules[http.MethodHead] = get
		}
	}
	allowHeader := strings.Join(slices.Sorted(maps.Keys(rules)), ", ")
	return func(next http.Handler) http.Handler {
		guarded := make(map[string]http.Handler, len(rules))
		for m, mw := range rules {
			guarded[m] = mw(next)
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h, ok := guarded[r.Method]
			if !ok {
				w.Header().Set("Allow", allowHeader)
				g.refuse(w, r, http.StatusMethodNotAllowed, "method not in the rule", nil, "", nil, nil)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
}

// Protect guards a route with rule. It panics on a rule that could never
// be right: no permission, an empty name, or one the policy does not
// declare.
func (g *Guard) Protect(rule Rule) func(http.Handler) http.Handler {
	if len(rule.Perms) == 0 {
		panic("iamhttp: a rule needs at least one permission (routes are denied by default, not opened)")
	}
	for _, p := range rule.Perms {
		if !g.c.Declares(p) {
			panic(fmt.Sprintf("iamhttp: permission %q is not declared by the policy", p))
		}
	}
	perms := append([]string(nil), rule.Perms...)
	return func(next http.Handler) http.Handler {
		if next == nil {
			panic("iamhttp: nil handler")
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			g.serve(w, r, next, perms, rule.Any, rule.Loader)
		})
	}
}

func (g *Guard) serve(w http.ResponseWriter, r *http.Request, next http.Handler, perms []string, anyOf bool, loader Loader) {
	ctx := r.Context()
	subj, err := g.subject(r)
	if err != nil {
		g.refuse(w, r, http.StatusServiceUnavailable, "subject lookup failed", nil, "", nil, err)
		return
	}
	if isNil(subj) {
		subj = Anonymous
	}
	// Decided once, from the subject that is checked: any subject without
	// an ID (Anonymous or the application's own visitor value) is someone
	// who has not authenticated, so a denial asks them to (401) rather
	// than refusing them (403).
	anonymous := subj.SubjectID() == ""
	var obj iam.Object
	if loader != nil {
		obj, err = load(loader, r)
		switch {
		case errors.Is(err, ErrNotFound), errors.Is(err, iam.ErrNotFound):
			g.refuse(w, r, http.StatusNotFound, "object not found", subj, perms[0], nil, err)
			return
		case errors.Is(err, ErrUnavailable):
			g.refuse(w, r, http.StatusServiceUnavailable, "loader store unavailable", subj, perms[0], nil, err)
			return
		case err != nil:
			g.refuse(w, r, http.StatusInternalServerError, "loader failed", subj, perms[0], nil, err)
			return
		case isNil(obj):
			g.refuse(w, r, http.StatusNotFound, "loader returned no object", subj, perms[0], nil, nil)
			return
		}
	}
	allowed, perm, dec, err := g.decide(ctx, subj, perms, anyOf, obj)
	if err != nil {
		status := http.StatusServiceUnavailable
		if errors.Is(err, iam.ErrWrongType) || errors.Is(err, iam.ErrPanic) || errors.Is(err, iam.ErrInvalid) {
			status = http.StatusInternalServerError
		}
		g.refuse(w, r, status, "check failed", subj, perm, obj, err)
		return
	}
	if !allowed {
		status := http.StatusForbidden
		if anonymous {
			status = http.StatusUnauthorized
		}
		if g.hide && loader != nil {
			// Answered like the loader's 404 above, so that the response
			// does not tell an existing object from a missing one; the log
			// keeps the real reason and status.
			g.refuse(w, r, http.StatusNotFound, "denied: "+dec.String(), subj, perm, obj, nil,
				slog.Int("hidden_status", status))
			return
		}
		g.refuse(w, r, status, "denied: "+dec.String(), subj, perm, obj, nil)
		return
	}
	ctx = context.WithValue(ctx, subjectKey{}, subj)
	if obj != nil {
		ctx = context.WithValue(ctx, objectKey{}, obj)
	}
	next.ServeHTTP(w, r.WithContext(ctx))
}

// load runs the route's loader; a loader that panics is a loader error
// (500), not a dropped connection.
func load(loader Loader, r *http.Request) (obj iam.Object, err error) {
	defer func() {
		if p := recover(); p != nil {
			obj, err = nil, fmt.Errorf("iamhttp: the loader panicked: %v", p)
		}
	}()
	return loader(r)
}

// decide checks perms (all, or any); it returns the deciding permission and,
// for a refusal, its decision for the log. Each permission is asked once.
// As the rules' Or and And do (docs/contract.md line 9), any-of allows when
// one permission allows though another's check failed, and all-of denies
// (403, not 503) when one is denied though another's check failed; else
// the first failure is the answer.
func (g *Guard) decide(ctx context.Context, s iam.Subject, perms []string, anyOf bool, obj iam.Object) (bool, string, iam.Decision, error) {
	var (
		last    iam.Decision
		failed  error
		failedP string
		failedD iam.Decision
	)
	for _, p := range perms {
		d, err := g.c.Decide(ctx, s, p, obj)
		if err != nil {
			if failed == nil {
				failed, failedP, failedD = err, p, d
			}
			continue
		}
		last = d
		if anyOf && d.Allowed {
			return true, p, d, nil
		}
		if !anyOf && !d.Allowed {
			return false, p, d, nil
		}
	}
	if failed != nil {
		return false, failedP, failedD, failed
	}
	return !anyOf, perms[len(perms)-1], last, nil
}

func (g *Guard) refuse(w http.ResponseWriter, r *http.Request, status int, why string, s iam.Subject, perm string, obj iam.Object, err error, extra ...slog.Attr) {
	attrs := []slog.Attr{
		slog.Int("status", status),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.String("reason", why),
	}
	if id := g.reqID(r); id != "" {
		attrs = append(attrs, slog.String("request_id", id))
	}
	if s != nil { // serve has turned a typed nil into Anonymous
		attrs = append(attrs, slog.String("subject", s.SubjectID()))
	}
	if perm != "" {
		attrs = append(attrs, slog.String("perm", perm))
	}
	if obj != nil { // serve refuses a typed nil object before passing any
		attrs = append(attrs, slog.String("object", obj.ObjectRef().String()))
	}
	attrs = append(attrs, extra...)
	level := slog.LevelInfo
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
		if status >= 500 {
			level = slog.LevelError
		}
	}
	g.log.LogAttrs(r.Context(), level, "iamhttp: request refused", attrs...)
	if status == http.StatusUnauthorized && g.challenge != "" {
		w.Header().Set("WWW-Authenticate", g.challenge)
	}
	g.deny(w, r, status)
}

// isNil reports whether v is nil or a typed nil (a nil *User in an
// iam.Subject), whose methods may panic.
func isNil(v any) bool { return v == nil || typednil.Is(v) }

// DefaultDeny writes status with its standard text, as JSON
// ({"error":"Forbidden"}) when the request accepts application/json, else
// as plain text. It never says why.
func DefaultDeny(w http.ResponseWriter, r *http.Request, status int) {
	text := http.StatusText(status)
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		h.Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, "{\"error\":%q}\n", text)
		return
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintln(w, text)
}

type subjectKey struct{}
type objectKey struct{}

// SubjectFrom returns the subject the middleware checked (Anonymous, or
// the application's own anonymous value, for an anonymous request that a
// rule allowed).
func SubjectFrom(ctx context.Context) (iam.Subject, bool) {
	s, ok := ctx.Value(subjectKey{}).(iam.Subject)
	return s, ok
}

// ObjectFrom returns the object the middleware loaded and checked.
func ObjectFrom(ctx context.Context) (iam.Object, bool) {
	o, ok := ctx.Value(objectKey{}).(iam.Object)
	return o, ok
}
