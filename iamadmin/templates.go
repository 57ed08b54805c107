package iamadmin

import (
	"embed"
	"fmt"
	"html/template"
	"net/url"
	"strings"

	"github.com/iamgo/iam"
)

//go:embed assets/pages.html
var pagesHTML string

//go:embed assets/admin.css
var adminCSS []byte

var _ embed.FS // the embed import is for the directives above

func parseTemplates(h *Handler) (*template.Template, error) {
	funcs := template.FuncMap{
		// link builds a URL under the prefix from a path and key, value
		// pairs; html/template escapes it in the attribute.
		"link": func(path string, kv ...string) string {
			q := url.Values{}
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i+1] != "" {
					q.Set(kv[i], kv[i+1])
				}
			}
			return h.url(path, q)
		},
		"kind": func(p iam.Principal) string { return p.Kind.String() },
		"join": strings.Join,
		"ref": func(r iam.Ref) string {
			switch {
			case r == iam.GlobalScope():
				return "everything"
			case r.IsObject():
				return r.String()
			case r.Valid():
				return "every " + r.Type
			}
			return ""
		},
		"refType": func(r iam.Ref) string {
			if r == iam.GlobalScope() {
				return "*"
			}
			return r.Type
		},
		"refID": func(r iam.Ref) string {
			if r.Valid() && !r.IsObject() && r != iam.GlobalScope() {
				return "*"
			}
			return r.ID
		},
		"reason": func(d iam.Decision) string { return d.String() },
		"errText": func(err error) string {
			if err == nil {
				return ""
			}
			return err.Error()
		},
	}
	t, err := template.New("pages").Funcs(funcs).Parse(pagesHTML)
	if err != nil {
		return nil, fmt.Errorf("iamadmin: templates: %w", err)
	}
	return t, nil
}
