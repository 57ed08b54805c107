package iamadmin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/iamgo/iam"
)

// formError carries a refused change back to the page its form is on.
type formError struct {
	status int
	msg    string
}

type formErrorKey struct{}

// change applies the change a form asks for, through the Manager with the
// signed-in actor, or files it as a request to approve (as_request). On
// success the browser is sent back to the form's page (303); a refusal is
// shown on that page, with the Manager's reason.
func (h *Handler) change(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	actor := actorOf(r)
	f := r.PostForm
	back, ch, err := changeOf(f)
	if err == nil {
		if err = h.seen(ctx, actor, ch.Target()); errors.Is(err, errUnseen) {
			h.showOn(w, r, back, formError{http.StatusNotFound, "No such principal."})
			return
		}
	}
	if err == nil && f.Get("as_request") != "" {
		if h.o.Requests == nil {
			err = fmt.Errorf("%w: this site keeps no change requests", iam.ErrInvalid)
		} else {
			var req iam.Request
			if req, err = h.m.Request(ctx, actor, ch); err == nil {
				_, err = h.o.Requests.AddRequest(ctx, req)
			}
		}
		if err == nil {
			h.done(w, r, back, "requested")
			return
		}
	} else if err == nil {
		err = h.m.Apply(ctx, actor, ch)
	}
	if err != nil {
		status, msg := h.refusal(ctx, r.URL.Path, err)
		h.showOn(w, r, back, formError{status, msg})
		return
	}
	h.done(w, r, back, ch.Kind.String())
}

// requestDecision approves or denies a pending request.
func (h *Handler) requestDecision(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	back := pageRef{path: "/requests"}
	if h.o.Requests == nil {
		h.showOn(w, r, back, formError{http.StatusNotFound, "This site keeps no change requests."})
		return
	}
	id := r.PostForm.Get("id")
	req, err := h.o.Requests.Request(ctx, id)
	if err == nil {
		// A request about a principal the actor cannot see is listed to
		// it as nothing, so it is not there to decide either.
		if err = h.seen(ctx, actorOf(r), req.Change.Target()); errors.Is(err, errUnseen) {
			err = iam.ErrNotFound
		}
	}
	if err == nil {
		switch r.PostForm.Get("decision") {
		case "approve":
			// The Manager judges the approver on the state of now; a
			// refused approval leaves the request pending.
			if err = h.m.Approve(ctx, actorOf(r), req); err == nil {
				err = h.o.Requests.RemoveRequest(ctx, id)
			}
		case "deny":
			// Only the requester (withdrawing it) or someone who could
			// approve it now may drop a request.
			actor := actorOf(r)
			if actor.SubjectID() != req.RequestedBy {
				err = h.m.Authorize(ctx, actor, req.Change)
			}
			if err == nil {
				err = h.o.Requests.RemoveRequest(ctx, id)
			}
		default:
			err = fmt.Errorf("%w: decision must be approve or deny", iam.ErrInvalid)
		}
	}
	if err != nil {
		status, msg := h.refusal(ctx, r.URL.Path, err)
		h.showOn(w, r, back, formError{status, msg})
		return
	}
	h.done(w, r, back, r.PostForm.Get("decision")+"d")
}

// errUnseen: a change names a principal that is not there for the actor
// (see unseen).
var errUnseen = errors.New("iamadmin: no such principal")

// seen returns errUnseen when p is not there for actor, or the directory's
// error.
func (h *Handler) seen(ctx context.Context, actor iam.Subject, p iam.Principal) error {
	sub, e, err := h.subjectFor(ctx, p)
	if err != nil {
		return err
	}
	if h.unseen(actor, p, e, sub) {
		return errUnseen
	}
	return nil
}

// pageRef is a page and its query, where a form came from.
type pageRef struct {
	path string
	q    url.Values
}

// done sends the browser back to the page (Post/Redirect/Get), with the
// outcome to show.
func (h *Handler) done(w http.ResponseWriter, r *http.Request, back pageRef, what string) {
	q := url.Values{}
	for k, v := range back.q {
		q[k] = v
	}
	q.Set("done", what)
	http.Redirect(w, r, h.url(back.path, q), http.StatusSeeOther)
}

// showOn renders the form's page with the refusal.
func (h *Handler) showOn(w http.ResponseWriter, r *http.Request, back pageRef, fe formError) {
	r2 := r.Clone(context.WithValue(r.Context(), formErrorKey{}, fe))
	r2.Method = http.MethodGet
	r2.URL.Path = back.path
	r2.URL.RawQuery = back.q.Encode()
	h.mux.ServeHTTP(w, r2)
}

// changeOf reads the Change a form asks for, and the page to go back to.
// Fields: op; kind and id (the principal); role, perm, expires; type and
// oid (the object or scope of a grant); group or user (a membership).
func changeOf(f url.Values) (pageRef, iam.Change, error) {
	var ch iam.Change
	p, perr := principalParam(url.Values{"kind": {f.Get("kind")}, "id": {f.Get("id")}})
	back := pageRef{path: "/principal", q: url.Values{"kind": {f.Get("kind")}, "id": {f.Get("id")}}}
	if on, ok := refParam(f, "type", "oid"); f.Get("from") == "object" && ok && on.IsObject() {
		// A scope is not an object page's: its refusal is shown on the
		// principal's page, whose forms take scopes.
		back = pageRef{path: "/object", q: url.Values{"type": {f.Get("type")}, "id": {f.Get("oid")}}}
	}
	if perr != nil {
		return back, ch, fmt.Errorf("%w: name a user or a group (kind and id)", iam.ErrInvalid)
	}
	role := strings.TrimSpace(f.Get("role"))
	switch op := f.Get("op"); op {
	case "assign":
		exp, err := expiresParam(f)
		if err != nil {
			return back, ch, err
		}
		ch = iam.Change{Kind: iam.ChangePutProfile, Profile: iam.Profile{Holder: p, Role: role, Active: true, ExpiresAt: exp}}
	case "activate", "deactivate", "remove":
		kind := map[string]iam.ChangeKind{"activate": iam.ChangeActivate, "deactivate": iam.ChangeDeactivate, "remove": iam.ChangeDeleteProfile}[op]
		ch = iam.Change{Kind: kind, Profile: iam.Profile{Holder: p, Role: role}}
	case "join", "leave":
		kind := iam.ChangeAddMember
		if op == "leave" {
			kind = iam.ChangeRemoveMember
		}
		user, group := p.ID, strings.TrimSpace(f.Get("group"))
		if p.Kind == iam.KindGroup {
			user, group = strings.TrimSpace(f.Get("user")), p.ID
		}
		ch = iam.Change{Kind: kind, User: user, Group: group}
	case "grant", "revoke":
		on, ok := refParam(f, "type", "oid")
		if !ok {
			return back, ch, fmt.Errorf("%w: name the object (type and ID), the type (ID *) or everything (type *)", iam.ErrInvalid)
		}
		g := iam.Grant{Holder: p, On: on}
		if role != "" {
			g.Role = role
		} else {
			g.Perm = strings.TrimSpace(f.Get("perm"))
		}
		kind := iam.ChangeGrant
		if op == "revoke" {
			kind = iam.ChangeRevoke
		} else {
			exp, err := expiresParam(f)
			if err != nil {
				return back, ch, err
			}
			g.ExpiresAt = exp
		}
		ch = iam.Change{Kind: kind, Grant: g}
	default:
		return back, ch, fmt.Errorf("%w: unknown change %q", iam.ErrInvalid, op)
	}
	return back, ch, nil
}

// expiresParam reads the optional expires field: a date (YYYY-MM-DD, the
// start of that day, UTC) or nothing.
func expiresParam(f url.Values) (time.Time, error) {
	e := strings.TrimSpace(f.Get("expires"))
	if e == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.DateOnly, e)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: expiry %q is not a date (YYYY-MM-DD)", iam.ErrInvalid, e)
	}
	return t, nil
}
