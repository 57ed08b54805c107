package iamhttp_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam/iamhttp"
)

// response is what a client sees of an answer.
type response struct {
	Status int
	Header http.Header
	Body   string
}

func (a wiki) see(method, path, user, accept string) response {
	r := httptest.NewRequest(method, path, nil)
	if user != "" {
		r.Header.Set("X-User", user)
	}
	if accept != "" {
		r.Header.Set("Accept", accept)
	}
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	return response{w.Code, w.Result().Header, w.Body.String()}
}

func hide(o *iamhttp.Options) {
	o.HideForbidden = true
	o.Challenge = `Basic realm="wiki"` // must not tell a hidden denial from a 404
}

// contract 20: with HideForbidden, an object the caller may not see is
// answered exactly like one that does not exist (status, headers, body), for
// visitors and for users without access, so probing IDs tells nothing;
// whoever may see it still does.
func TestHideForbiddenNoExistenceOracle(t *testing.T) {
	tests := []struct {
		name, method, path, user, accept string
	}{
		{"RequireObject, anonymous", "GET", "/view/", "", ""},
		{"RequireObject, typed-nil subject", "GET", "/view/", "typed-nil", ""},
		{"RequireObject, app visitor value", "GET", "/view/", "app-visitor", ""},
		{"RequireObject, member without access", "GET", "/view/", "bob", ""},
		{"RequireObject, member without access, JSON", "GET", "/view/", "bob", "application/json"},
		{"RequireObject, anonymous, JSON", "GET", "/view/", "", "application/json"},
		{"ByMethod GET, anonymous", "GET", "/docs/", "", ""},
		{"ByMethod HEAD, anonymous", "HEAD", "/docs/", "", ""},
		{"ByMethod PUT, anonymous", "PUT", "/docs/", "", ""},
		{"ByMethod PUT, member without access", "PUT", "/docs/", "bob", ""},
		{"ByMethod DELETE, member without the role", "DELETE", "/docs/", "bob", ""},
		{"Protect with a loader, member without access", "GET", "/review/", "bob", ""},
	}
	a := wikiFixture(t, hide)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			missing := a.see(tt.method, tt.path+"nosuch", tt.user, tt.accept)
			forbidden := a.see(tt.method, tt.path+"private", tt.user, tt.accept)
			require.Equal(t, http.StatusNotFound, missing.Status)
			if diff := cmp.Diff(missing, forbidden); diff != "" {
				t.Errorf("missing vs existing but forbidden (-want +got):\n%s", diff)
			}
			require.Empty(t, forbidden.Header.Get("WWW-Authenticate"))
		})
	}
}

// contract 20: HideForbidden hides denials only: allowed requests,
// model-level routes, 405s and failures are answered as without it.
func TestHideForbiddenStatuses(t *testing.T) {
	tests := []struct {
		name, method, path, user string
		want, wantPlain          int // with HideForbidden, without it
	}{
		{"owner sees a private doc", "GET", "/view/private", "ann", 200, 200},
		{"visitor sees a public doc", "GET", "/view/pub", "", 200, 200},
		{"role holder deletes", "DELETE", "/docs/private", "dee", 200, 200},
		{"superuser deletes", "DELETE", "/docs/private", "root", 200, 200},
		{"visitor denied a private doc", "GET", "/view/private", "", 404, 401},
		{"member denied a private doc", "GET", "/view/private", "bob", 404, 403},
		{"member may view but not change: the change is hidden too", "PUT", "/docs/pub", "bob", 404, 403},
		{"missing doc", "GET", "/view/nosuch", "bob", 404, 404},
		{"model level, visitor denied: 401 stays", "POST", "/docs", "", 401, 401},
		{"model level, member denied: 403 stays", "POST", "/register", "bob", 403, 403},
		{"method not in the map: 405 stays", "PATCH", "/docs/private", "bob", 405, 405},
		{"loader store failure: 503 stays", "GET", "/view/db-down", "", 503, 503},
		{"checker fault: 500 stays", "GET", "/view/alien", "bob", 500, 500},
	}
	hidden, plain := wikiFixture(t, hide), wikiFixture(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, hidden.do(tt.method, tt.path, tt.user).Code, "with HideForbidden")
			require.Equal(t, tt.wantPlain, plain.do(tt.method, tt.path, tt.user).Code, "without HideForbidden")
		})
	}
	t.Run("iam store failure: 503 stays", func(t *testing.T) {
		*hidden.storeErr = errors.New("disk on fire")
		defer func() { *hidden.storeErr = nil }()
		require.Equal(t, http.StatusServiceUnavailable, hidden.do("DELETE", "/docs/private", "bob").Code)
	})
}

// contract 20: a hidden denial is logged as what it is, a denial with the
// status it would have had, not as a missing object; the client cannot tell.
func TestHideForbiddenLogsTheReason(t *testing.T) {
	tests := []struct {
		name, path, user string
		want             *regexp.Regexp
	}{
		{"visitor", "/view/private", "", regexp.MustCompile(`status=404 .*reason="denied: denied wiki.view: .*perm=wiki.view object=wiki.doc:private hidden_status=401`)},
		{"member", "/view/private", "bob", regexp.MustCompile(`status=404 .*reason="denied: denied wiki.view: .*subject=bob perm=wiki.view object=wiki.doc:private hidden_status=403`)},
		{"missing", "/view/nosuch", "bob", regexp.MustCompile(`status=404 .*reason="object not found" subject=bob perm=wiki.view error=`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := wikiFixture(t, hide)
			require.Equal(t, http.StatusNotFound, a.do("GET", tt.path, tt.user).Code)
			require.Regexp(t, tt.want, a.logs.String())
		})
	}
}
