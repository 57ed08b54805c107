package iamadmin

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/iamgo/iam"
)

func (h *Handler) routes() {
	h.mux.HandleFunc("GET /{$}", h.index)
	h.mux.HandleFunc("GET /policy", h.policyPage)
	h.mux.HandleFunc("GET /principals", h.principals)
	h.mux.HandleFunc("GET /principal", h.principal)
	h.mux.HandleFunc("GET /object", h.object)
	h.mux.HandleFunc("GET /explain", h.explain)
	h.mux.HandleFunc("GET /audit", h.audit)
	h.mux.HandleFunc("GET /requests", h.requests)
	h.mux.HandleFunc("POST /change", h.change)
	h.mux.HandleFunc("POST /request", h.requestDecision)
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, http.StatusNotFound, "No such page.")
	})
}

// page is what every template gets.
type page struct {
	Title   string
	Prefix  string
	Actor   string
	CSRF    string
	Flash   string // the outcome of the last change
	Error   string // why the page or the last change failed
	Data    any
	Nav     []navItem
	Explain bool
}

type navItem struct{ Name, Path string }

var nav = []navItem{{"Policy", "/policy"}, {"Principals", "/principals"}, {"Object permissions", "/object"}, {"Explain", "/explain"}, {"Audit", "/audit"}, {"Requests", "/requests"}}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any, errMsg string) {
	if fe, ok := r.Context().Value(formErrorKey{}).(formError); ok && errMsg == "" {
		status, errMsg = fe.status, fe.msg
	}
	actor := actorOf(r)
	p := page{Title: title, Prefix: h.o.Prefix, Actor: actor.SubjectID(), CSRF: h.csrf(actor), Flash: r.URL.Query().Get("done"), Error: errMsg, Data: data, Nav: nav}
	var b strings.Builder
	if err := h.tmpl.ExecuteTemplate(&b, name, p); err != nil {
		h.log.ErrorContext(r.Context(), "iamadmin: rendering", "page", name, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

// renderErr renders the page with why err stopped it, and its status.
func (h *Handler) renderErr(w http.ResponseWriter, r *http.Request, name, title string, data any, err error) {
	status, msg := h.refusal(r.Context(), r.URL.Path, err)
	h.render(w, r, status, name, title, data, msg)
}

// fail answers with a plain page and no data: refusals before the actor
// is known to be a manager, and unknown pages.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	var b strings.Builder
	if err := h.tmpl.ExecuteTemplate(&b, "fail", page{Title: http.StatusText(status), Prefix: h.o.Prefix, Error: msg}); err != nil {
		http.Error(w, http.StatusText(status), status)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

func (h *Handler) index(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "index", "Access management", nil, "")
}

// Policy page.

type roleView struct {
	Name     string
	Perms    []string
	Includes []string
	All      []string // with Includes followed
	Manage   bool     // the actor may give this role to someone
}

type policyView struct {
	Roles []roleView
	Perms []iam.Perm
	Rules []struct{ Perm, Expr string }
}

func (h *Handler) policyPage(w http.ResponseWriter, r *http.Request) {
	p := h.c.Policy()
	var v policyView
	for _, ro := range p.Roles {
		v.Roles = append(v.Roles, roleViewOf(ro))
	}
	v.Perms = p.Perms
	for perm, rule := range p.Rules {
		v.Rules = append(v.Rules, struct{ Perm, Expr string }{perm, rule.String()})
	}
	slices.SortFunc(v.Rules, func(a, b struct{ Perm, Expr string }) int { return cmp.Compare(a.Perm, b.Perm) })
	h.render(w, r, http.StatusOK, "policy", "Policy", v, "")
}

func roleViewOf(ro *iam.Role) roleView {
	v := roleView{Name: ro.Name, Perms: ro.Perms}
	for _, in := range ro.Includes {
		v.Includes = append(v.Includes, in.Name)
	}
	seen := map[*iam.Role]bool{}
	var walk func(*iam.Role)
	walk = func(x *iam.Role) {
		if seen[x] {
			return
		}
		seen[x] = true
		v.All = append(v.All, x.Perms...)
		for _, in := range x.Includes {
			walk(in)
		}
	}
	walk(ro)
	slices.Sort(v.All)
	v.All = slices.Compact(v.All)
	return v
}

// Principals page: search users and groups, paged.

type principalsView struct {
	Query   string
	Entries []Entry
	Next    string
	Source  string // where the list comes from
}

func (h *Handler) principals(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	query, after := strings.TrimSpace(q.Get("q")), q.Get("after")
	v := principalsView{Query: query}
	entries, next, err := h.searchPrincipals(r.Context(), actorOf(r), query, after)
	if err != nil {
		h.renderErr(w, r, "principals", "Principals", v, err)
		return
	}
	v.Entries, v.Next = entries, next
	v.Source = "the application's directory"
	if h.o.Directory == nil {
		v.Source = "the store: holders of the policy's roles and members of their groups"
	}
	h.render(w, r, http.StatusOK, "principals", "Principals", v, "")
}

// searchPrincipals pages through the directory, leaving out superusers for
// an actor who is not one; without a directory it lists the holders of
// every role of the policy (and the members of groups among them), which
// the store can answer.
func (h *Handler) searchPrincipals(ctx context.Context, actor iam.Subject, query, after string) ([]Entry, string, error) {
	limit := h.o.PageSize
	super := isSuperuser(actor)
	if h.o.Directory != nil {
		var out []Entry
		for len(out) < limit {
			batch, err := h.o.Directory.Search(ctx, query, after, limit+1)
			if err != nil {
				return nil, "", err
			}
			for _, e := range batch {
				after = e.Principal.String()
				// The entry's flag, or the subject's own word, as on every
				// other page.
				if !super && (e.Superuser || h.hidden(ctx, e.Principal)) {
					continue
				}
				if len(out) == limit {
					return out, out[len(out)-1].Principal.String(), nil
				}
				out = append(out, e)
			}
			if len(batch) <= limit {
				return out, "", nil
			}
		}
		return out, out[len(out)-1].Principal.String(), nil
	}
	rl, ok := h.c.Store().(iam.RoleLister)
	if !ok {
		return nil, "", iam.ErrNotListable
	}
	seen := map[iam.Principal]bool{}
	var all []iam.Principal
	for _, ro := range h.c.Policy().Roles {
		ps, err := rl.RoleProfiles(ctx, ro.Name)
		if err != nil {
			return nil, "", err
		}
		for _, p := range ps {
			if !seen[p.Holder] {
				seen[p.Holder] = true
				all = append(all, p.Holder)
			}
		}
	}
	if ml, ok := h.c.Store().(iam.MemberLister); ok {
		for _, p := range slices.Clone(all) {
			if p.Kind != iam.KindGroup {
				continue
			}
			users, err := ml.GroupMembers(ctx, p.ID)
			if err != nil {
				return nil, "", err
			}
			for _, u := range users {
				if up := iam.User(u); !seen[up] {
					seen[up] = true
					all = append(all, up)
				}
			}
		}
	}
	slices.SortFunc(all, func(a, b iam.Principal) int { return cmp.Compare(a.String(), b.String()) })
	var out []Entry
	for _, p := range all {
		if p.String() <= after || (query != "" && !strings.Contains(p.ID, query)) {
			continue
		}
		if len(out) == limit {
			return out, out[len(out)-1].Principal.String(), nil
		}
		out = append(out, Entry{Principal: p})
	}
	return out, "", nil
}

// Principal page: profiles, memberships, grants, effective permissions,
// and the forms that change them.

type principalView struct {
	P          iam.Principal
	Name       string
	Profiles   []profileView
	Groups     []string
	Grants     []iam.Grant
	Effective  []iam.Decision
	EffErr     string
	GrantRoles []string // roles the actor may assign to P
}

type profileView struct {
	iam.Profile
	Live    bool
	Expires string
}

func (h *Handler) principal(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	actor := actorOf(r)
	p, err := principalParam(r.URL.Query())
	if err != nil {
		h.render(w, r, http.StatusBadRequest, "principal", "Principal", nil, "Name a user or a group: kind=user|group and id.")
		return
	}
	sub, entry, err := h.subjectFor(ctx, p)
	if err == nil && h.unseen(actor, p, entry, sub) {
		h.fail(w, r, http.StatusNotFound, "No such principal.")
		return
	}
	v := principalView{P: p, Name: entry.Name}
	if err == nil {
		err = h.fillPrincipal(ctx, actor, sub, &v)
	}
	if err != nil {
		h.renderErr(w, r, "principal", p.String(), v, err)
		return
	}
	h.render(w, r, http.StatusOK, "principal", p.String(), v, "")
}

func (h *Handler) fillPrincipal(ctx context.Context, actor, sub iam.Subject, v *principalView) error {
	hold, err := h.c.Store().Holding(ctx, v.P)
	if err != nil {
		return err
	}
	now := time.Now()
	for _, pr := range hold.Profiles() {
		pv := profileView{Profile: pr, Live: pr.Live(now)}
		if !pr.ExpiresAt.IsZero() {
			pv.Expires = pr.ExpiresAt.UTC().Format(time.RFC3339)
		}
		v.Profiles = append(v.Profiles, pv)
	}
	slices.SortFunc(v.Profiles, func(a, b profileView) int { return cmp.Compare(a.Role, b.Role) })
	v.Groups = slices.Sorted(slices.Values(hold.Groups()))
	if hl, ok := h.c.Store().(iam.HolderGrantLister); ok {
		gs, err := hl.GrantsHeldBy(ctx, v.P)
		if err != nil {
			return err
		}
		slices.SortFunc(gs, func(a, b iam.Grant) int { return cmp.Compare(a.String(), b.String()) })
		v.Grants = gs
	}
	if sub != nil {
		// The permissions the user holds at model level (everywhere), with
		// the reason for each.
		if v.Effective, err = h.c.Perms(ctx, sub, nil); err != nil {
			_, v.EffErr = h.refusal(ctx, "principal", err)
			v.Effective = nil
		}
	}
	// Offer only the roles the Manager would let the actor assign here.
	for _, ro := range h.c.Policy().Roles {
		ch := iam.Change{Kind: iam.ChangePutProfile, Profile: iam.Profile{Holder: v.P, Role: ro.Name, Active: true}}
		if h.m.Authorize(ctx, actor, ch) == nil {
			v.GrantRoles = append(v.GrantRoles, ro.Name)
		}
	}
	return nil
}

// subjectFor returns the application's subject for a user (nil for a
// group, or a user the directory does not know) and its directory entry.
func (h *Handler) subjectFor(ctx context.Context, p iam.Principal) (iam.Subject, Entry, error) {
	e := Entry{Principal: p}
	if p.Kind != iam.KindUser {
		return nil, e, nil
	}
	if h.o.Directory == nil {
		return plainSubject(p.ID), e, nil
	}
	found, s, err := h.o.Directory.Lookup(ctx, p.ID)
	if err != nil || s == nil {
		return nil, e, err
	}
	found.Principal = p
	return s, found, nil
}

// plainSubject is a user the application says nothing more about: active,
// not a superuser, no groups beyond the stored ones.
type plainSubject string

func (s plainSubject) SubjectID() string { return string(s) }

func principalParam(q url.Values) (iam.Principal, error) {
	var p iam.Principal
	switch q.Get("kind") {
	case "user":
		p = iam.User(q.Get("id"))
	case "group":
		p = iam.Group(q.Get("id"))
	default:
		return p, iam.ErrInvalid
	}
	if !p.Valid() {
		return p, iam.ErrInvalid
	}
	return p, nil
}

func refParam(q url.Values, typeKey, idKey string) (iam.Ref, bool) {
	typ, id := strings.TrimSpace(q.Get(typeKey)), strings.TrimSpace(q.Get(idKey))
	switch {
	case typ == "" && id == "":
		return iam.Ref{}, false
	case typ == "*" && id == "":
		return iam.GlobalScope(), true
	case id == "" || id == "*":
		return iam.TypeScope(typ), true
	}
	return iam.Ref{Type: typ, ID: id}, true
}

// Object permissions page (guardian's): who holds what on a Ref, by which
// path, and the forms to grant and revoke.

type objectView struct {
	Type, ID string
	Ref      iam.Ref
	Holders  []iam.Holder
	Rules    []string
	Next     string
	Perms    []string // the permissions that apply to the object's type
	Roles    []string
}

func (h *Handler) object(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	v := objectView{Type: q.Get("type"), ID: q.Get("id")}
	ref, ok := refParam(q, "type", "id")
	if !ok {
		h.render(w, r, http.StatusOK, "object", "Object permissions", v, "")
		return
	}
	v.Ref = ref
	if !ref.IsObject() {
		h.render(w, r, http.StatusBadRequest, "object", "Object permissions", v, "Name one object: a type and an ID.")
		return
	}
	hl, err := h.c.Holders(ctx, ref, iam.HoldersOptions{})
	if err != nil {
		h.renderErr(w, r, "object", ref.String(), v, err)
		return
	}
	super := isSuperuser(actorOf(r))
	after := q.Get("after")
	for _, ho := range hl.Holders {
		if ho.Principal.String() <= after {
			continue
		}
		if !super && h.hidden(ctx, ho.Principal) {
			continue
		}
		if len(v.Holders) == h.o.PageSize {
			v.Next = v.Holders[len(v.Holders)-1].Principal.String()
			break
		}
		v.Holders = append(v.Holders, ho)
	}
	v.Rules = hl.Rules
	v.Perms, v.Roles = h.grantable(ctx, actorOf(r), ref)
	h.render(w, r, http.StatusOK, "object", ref.String(), v, "")
}

// candidate stands for "someone" when the pages ask the Manager what the
// actor may grant on an object, before a holder is chosen.
var candidate = iam.User("iamadmin:someone")

// grantable returns the permissions that apply to ref's type and the
// roles the Manager would let actor grant on ref to someone: the form
// suggests only those (another name may still be typed, and the Manager
// judges it).
func (h *Handler) grantable(ctx context.Context, actor iam.Subject, ref iam.Ref) (perms, roles []string) {
	pol := h.c.Policy()
	var all []string
	for _, p := range pol.Perms {
		if len(p.Types) == 0 || slices.Contains(p.Types, ref.Type) {
			all = append(all, p.Name)
		}
	}
	if len(pol.Perms) == 0 {
		for _, ro := range pol.Roles {
			all = append(all, ro.Perms...)
		}
		slices.Sort(all)
		all = slices.Compact(all)
	}
	ok := func(g iam.Grant) bool {
		return h.m.Authorize(ctx, actor, iam.Change{Kind: iam.ChangeGrant, Grant: g}) == nil
	}
	for _, p := range all {
		if ok(iam.Grant{Holder: candidate, Perm: p, On: ref}) {
			perms = append(perms, p)
		}
	}
	for _, ro := range pol.Roles {
		if ok(iam.Grant{Holder: candidate, Role: ro.Name, On: ref}) {
			roles = append(roles, ro.Name)
		}
	}
	return perms, roles
}

// unseen reports whether the principal p (with its directory entry and
// subject, from subjectFor) is not there for actor: a user the Directory
// does not know, or a superuser when the actor is not one. Both get the
// same 404, on its page and for any change naming it, so that a
// non-superuser cannot tell a hidden superuser from a made-up ID.
func (h *Handler) unseen(actor iam.Subject, p iam.Principal, e Entry, sub iam.Subject) bool {
	if h.o.Directory == nil || p.Kind != iam.KindUser {
		return false
	}
	return sub == nil || !isSuperuser(actor) && (e.Superuser || isSuperuser(sub))
}

// hidden reports whether p is a superuser user, whom a non-superuser actor
// does not see. Without a directory nothing is known, so nothing is hidden.
func (h *Handler) hidden(ctx context.Context, p iam.Principal) bool {
	if h.o.Directory == nil || p.Kind != iam.KindUser {
		return false
	}
	s, e, err := h.subjectFor(ctx, p)
	return err != nil || e.Superuser || isSuperuser(s)
}

// Explain page: one check, its decision path and every leaf of its rule.

type explainView struct {
	User, Perm, Type, ID string
	Asked                bool
	Explanation          iam.Explanation
	Leaves               []iam.Leaf
}

func (h *Handler) explain(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	v := explainView{User: strings.TrimSpace(q.Get("user")), Perm: strings.TrimSpace(q.Get("perm")), Type: q.Get("type"), ID: q.Get("id")}
	if v.User == "" || v.Perm == "" {
		h.render(w, r, http.StatusOK, "explain", "Explain", v, "")
		return
	}
	p := iam.User(v.User)
	sub, e, err := h.subjectFor(ctx, p)
	if err == nil && (sub == nil || !isSuperuser(actorOf(r)) && (e.Superuser || isSuperuser(sub))) {
		// Unknown, or a superuser the actor may not see: the same answer.
		h.render(w, r, http.StatusNotFound, "explain", "Explain", v, "No such user.")
		return
	}
	var obj iam.Object
	if ref, ok := refParam(q, "type", "id"); ok {
		if !ref.IsObject() {
			h.render(w, r, http.StatusBadRequest, "explain", "Explain", v, "Name one object (a type and an ID), or none for a model-level check.")
			return
		}
		// iamadmin knows no application type: a rule that wants the
		// application's object sees the Ref, and decides as it does for
		// objects it does not know.
		obj = ref
	}
	if err == nil {
		v.Explanation, err = h.c.Explain(ctx, sub, v.Perm, obj)
	}
	v.Asked = true
	v.Leaves = v.Explanation.Decision.Leaves()
	if err != nil {
		h.renderErr(w, r, "explain", "Explain", v, err)
		return
	}
	h.render(w, r, http.StatusOK, "explain", "Explain", v, "")
}

// Audit page.

type auditView struct {
	Actor, Target string
	Events        []iam.AuditEvent
	Next          string
	Missing       bool
}

func (h *Handler) audit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	v := auditView{Actor: q.Get("actor"), Target: q.Get("target")}
	if h.o.Audit == nil {
		v.Missing = true
		h.render(w, r, http.StatusOK, "audit", "Audit", v, "")
		return
	}
	evs, next, err := h.o.Audit.AuditEvents(r.Context(), v.Actor, v.Target, q.Get("before"), h.o.PageSize)
	if err != nil {
		h.renderErr(w, r, "audit", "Audit", v, err)
		return
	}
	if !isSuperuser(actorOf(r)) {
		// Superusers' own changes and changes to them are not shown to
		// those who may not see them.
		evs = slices.DeleteFunc(evs, func(e iam.AuditEvent) bool {
			return h.hidden(r.Context(), iam.User(e.Actor)) || h.hidden(r.Context(), e.Change.Target())
		})
	}
	v.Events, v.Next = evs, next
	h.render(w, r, http.StatusOK, "audit", "Audit", v, "")
}

// Requests page.

type requestsView struct {
	Requests []StoredRequest
	Next     string
	Missing  bool
}

func (h *Handler) requests(w http.ResponseWriter, r *http.Request) {
	v := requestsView{}
	if h.o.Requests == nil {
		v.Missing = true
		h.render(w, r, http.StatusOK, "requests", "Requests", v, "")
		return
	}
	reqs, next, err := h.o.Requests.PendingRequests(r.Context(), r.URL.Query().Get("after"), h.o.PageSize)
	if err != nil {
		h.renderErr(w, r, "requests", "Requests", v, err)
		return
	}
	if !isSuperuser(actorOf(r)) {
		reqs = slices.DeleteFunc(reqs, func(q StoredRequest) bool {
			return h.hidden(r.Context(), iam.User(q.Request.RequestedBy)) || h.hidden(r.Context(), q.Request.Change.Target())
		})
	}
	v.Requests, v.Next = reqs, next
	h.render(w, r, http.StatusOK, "requests", "Requests", v, "")
}
