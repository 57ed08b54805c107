package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
)

// Step is one scripted request of the tour.
type Step struct {
	User   string // "" anonymous
	Pass   string // overrides the user's password (a wrong one)
	Method string
	Path   string
	Body   string
	Want   int
	Note   string
}

// TourSteps is the scripted tour: every role, allowed and refused.
var TourSteps = []Step{
	{"", "", "GET", "/posts", "", 200, "anonymous sees the public posts"},
	{"", "", "GET", "/posts/2", "", 401, "a draft needs a login"},
	{"rita", "", "GET", "/posts", "", 200, "rita also sees bob's draft she reviews"},
	{"rita", "", "GET", "/posts/3", "", 200, "local reviewer role on post 3"},
	{"rita", "", "GET", "/posts/2", "", 403, "not hers, not reviewing it"},
	{"sam", "", "GET", "/posts", "", 200, "staff (a group's global role) sees every post"},
	{"alice", "", "PUT", "/posts/2", `{"title":"Go 1.26 is out","body":"Draft, revised."}`, 200, "an author changes her own post"},
	{"bob", "", "PUT", "/posts/2", `{"title":"mine now","body":""}`, 403, "but not someone else's"},
	{"alice", "", "POST", "/posts/2/publish", "", 403, "only editors publish"},
	{"erin", "", "POST", "/posts/2/publish", "", 200, "the tech editor publishes a tech post"},
	{"erin", "", "POST", "/posts/3/publish", "", 403, "but not outside her sections"},
	{"rita", "", "POST", "/posts", `{"title":"hi","body":"","section":"tech"}`, 403, "readers do not write"},
	{"alice", "", "POST", "/posts", `{"title":"Next draft","body":"…","section":"tech"}`, 201, "authors do (post 5)"},
	{"alice", "", "PUT", "/posts/5/reviewers/rita", "", 200, "the owner asks rita to review"},
	{"rita", "", "GET", "/posts/5", "", 200, "rita may now read the draft"},
	{"rita", "", "PUT", "/posts/5/reviewers/bob", "", 403, "reviewers do not choose reviewers"},
	{"alice", "", "PUT", "/posts/5/reviewers/alice", "", 403, "nobody changes their own roles (Manager)"},
	{"erin", "", "GET", "/posts/5/holders", "", 200, "who holds what on post 5"},
	{"alice", "", "DELETE", "/posts/5/reviewers/rita", "", 200, "review done"},
	{"rita", "", "GET", "/posts/5", "", 403, "revoked: denied at once"},
	{"bob", "", "DELETE", "/posts/1", "", 403, "bob may not delete alice's post"},
	{"mo", "", "DELETE", "/posts/5", "", 204, "a moderator may (its grants go in the same transaction)"},
	{"alice", "", "GET", "/posts/5", "", 404, "gone"},
	{"root", "", "GET", "/posts/3", "", 200, "the superuser sees everything"},
	{"alice", "wrong", "GET", "/posts", "", 401, "a wrong password is refused"},
	{"alice", "", "PATCH", "/posts/1", "", 405, "a method without a rule is refused, not allowed"},
	{"maria", "", "GET", "/admin/iam/", "", 200, "the role manager opens the admin pages (iamadmin)"},
	{"alice", "", "GET", "/admin/iam/", "", 403, "an author may not"},
	{"alice", "", "GET", "/posts/3", "", 403, "bob's draft"},
	{"maria", "", "POST", "/admin/iam/change", "form:op=grant&from=object&type=blog.post&oid=3&kind=user&id=alice&role=blog.reviewer&csrf={csrf}", 303, "maria makes alice a reviewer of post 3, through the Manager"},
	{"alice", "", "GET", "/posts/3", "", 200, "alice reads it now"},
	{"maria", "", "POST", "/admin/iam/change", "form:op=assign&kind=user&id=alice&role=blog.editor&csrf={csrf}", 403, "maria may not make alice an editor: a role she does not hold (refused on the form)"},
	{"maria", "", "POST", "/admin/iam/change", "form:op=grant&from=object&type=blog.post&oid=3&kind=user&id=sam&role=blog.reviewer", 403, "a form without its CSRF token changes nothing"},
}

// noRedirect is the tour's client: it shows a redirect (the admin forms'
// 303) as it comes.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// adminToken reads user's CSRF token from an admin page, as a browser has
// it in the form it posts.
func adminToken(ctx context.Context, base, user string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", base+AdminPrefix+"/principal?kind=user&id="+user, nil)
	if err != nil {
		return "", err
	}
	req.SetBasicAuth(user, userByID(user).Password)
	resp, err := noRedirect.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	m := csrfField.FindSubmatch(body)
	if m == nil {
		return "", fmt.Errorf("tour: no CSRF token on the admin page of %s (%d)", user, resp.StatusCode)
	}
	return string(m[1]), nil
}

// Tour runs TourSteps against the server at base, printing each request,
// its status and why; it fails if any status differs from the script.
func Tour(ctx context.Context, out io.Writer, a *App, base string, capture *captureHandler) error {
	fmt.Fprintln(out, "tour:")
	failed := 0
	for i, s := range TourSteps {
		id := fmt.Sprintf("tour-%02d", i+1)
		body, form := strings.CutPrefix(s.Body, "form:")
		if form && strings.Contains(body, "{csrf}") {
			tok, err := adminToken(ctx, base, s.User)
			if err != nil {
				return err
			}
			body = strings.ReplaceAll(body, "{csrf}", tok)
		}
		req, err := http.NewRequestWithContext(ctx, s.Method, base+s.Path, strings.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Accept", "application/json")
		if form {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		req.Header.Set("X-Request-Id", id)
		if s.User != "" {
			pw := s.Pass
			if pw == "" {
				pw = userByID(s.User).Password
			}
			req.SetBasicAuth(s.User, pw)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			return err
		}
		answer, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		who := s.User
		if who == "" {
			who = "(anonymous)"
		}
		mark := "ok"
		if resp.StatusCode != s.Want {
			mark = fmt.Sprintf("UNEXPECTED (want %d)", s.Want)
			failed++
		}
		fmt.Fprintf(out, "  %-11s %-6s %-26s → %d %s  %s\n", who, s.Method, s.Path, resp.StatusCode, http.StatusText(resp.StatusCode), mark)
		fmt.Fprintf(out, "      %s", s.Note)
		if why := capture.reason(id); why != "" {
			fmt.Fprintf(out, "; server log: %s", why)
		} else if sum := summary(answer); resp.StatusCode < 300 && sum != "" {
			fmt.Fprintf(out, "; %s", sum)
		}
		fmt.Fprintln(out)
	}
	if failed > 0 {
		return fmt.Errorf("tour: %d of %d requests had an unexpected status", failed, len(TourSteps))
	}
	fmt.Fprintf(out, "tour: all %d requests answered as scripted\n", len(TourSteps))
	return nil
}

// summary shortens a JSON answer for the tour: post IDs of a list, or a
// post's ID and status.
func summary(body []byte) string {
	var list []Post
	if json.Unmarshal(body, &list) == nil {
		ids := make([]string, len(list))
		for i, p := range list {
			ids[i] = p.ID
		}
		return "posts " + strings.Join(ids, ", ")
	}
	var p Post
	if json.Unmarshal(body, &p) == nil && p.ID != "" {
		return fmt.Sprintf("post %s (%s)", p.ID, p.Status)
	}
	var holders struct {
		Holders []holderOut `json:"holders"`
	}
	if json.Unmarshal(body, &holders) == nil && len(holders.Holders) > 0 {
		var hs []string
		for _, h := range holders.Holders {
			hs = append(hs, h.Holder+" "+strings.Join(h.Paths, " + "))
		}
		return "holders: " + strings.Join(hs, "; ")
	}
	var buf bytes.Buffer
	if json.Compact(&buf, body) == nil {
		return buf.String()
	}
	if bytes.HasPrefix(body, []byte("<!doctype html>")) {
		if _, title, ok := bytes.Cut(body, []byte("<title>")); ok {
			title, _, _ = bytes.Cut(title, []byte("</title>"))
			return "page: " + html.UnescapeString(string(title))
		}
	}
	return strings.TrimSpace(string(body))
}

// captureHandler is a slog.Handler that keeps the "reason" of each record
// by request ID (the tour reads why the server refused a request).
type captureHandler struct {
	mu      sync.Mutex
	reasons map[string]string
}

func newCaptureHandler() *captureHandler { return &captureHandler{reasons: map[string]string{}} }

func (h *captureHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *captureHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *captureHandler) WithGroup(string) slog.Handler            { return h }

func (h *captureHandler) Handle(_ context.Context, r slog.Record) error {
	var id, reason string
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "request_id":
			id = a.Value.String()
		case "reason":
			reason = a.Value.String()
		case "error":
			reason += " (" + a.Value.String() + ")"
		}
		return true
	})
	if id != "" && reason != "" {
		h.mu.Lock()
		h.reasons[id] = reason
		h.mu.Unlock()
	}
	return nil
}

func (h *captureHandler) reason(id string) string {
	if h == nil {
		return ""
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.reasons[id]
}
