package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
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
}

// Tour runs TourSteps against the server at base, printing each request,
// its status and why; it fails if any status differs from the script.
func Tour(ctx context.Context, out io.Writer, a *App, base string, capture *captureHandler) error {
	fmt.Fprintln(out, "tour:")
	failed := 0
	for i, s := range TourSteps {
		id := fmt.Sprintf("tour-%02d", i+1)
		req, err := http.NewRequestWithContext(ctx, s.Method, base+s.Path, strings.NewReader(s.Body))
		if err != nil {
			return err
		}
		req.Header.Set("Accept", "application/json")
		req.Header.Set("X-Request-Id", id)
		if s.User != "" {
			pw := s.Pass
			if pw == "" {
				pw = userByID(s.User).Password
			}
			req.SetBasicAuth(s.User, pw)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(resp.Body)
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
		} else if sum := summary(body); resp.StatusCode < 300 && sum != "" {
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
