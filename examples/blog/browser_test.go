package main

import (
	"context"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// chromium returns the browser the admin end-to-end test drives: $CHROMIUM,
// or Debian's chromium on the PATH. Without one the test is skipped,
// loudly, except under CI, which installs it.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("CI is set but no Chromium was found (apt-get install chromium): the browser tests must run")
	}
	t.Skip("no Chromium on the PATH: the admin browser tests are SKIPPED (install Debian's chromium package; CI runs them)")
	return ""
}

// screenshotDir is where the browser test saves its screenshots:
// $IAM_SCREENSHOTS, or iam-admin-screenshots in the temporary directory.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("IAM_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "iam-admin-screenshots")
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
}

// TestAdminInBrowser signs in to the demo's admin pages in headless
// Chromium as maria, the role manager: she makes alice a reviewer of bob's
// draft on its object permissions page and sees the holders change, then
// tries to give alice the editor role there, which she does not hold, and
// sees the Manager's refusal on the form; the audit page shows both.
// contract 19, contract 21
func TestAdminInBrowser(t *testing.T) {
	browser := chromium(t)
	app, c := startApp(t, filepath.Join(t.TempDir(), "blog.db"))
	_, err := app.Seed(t.Context(), false)
	require.NoError(t, err)
	shots := screenshotDir(t)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900), chromedp.DisableGPU)
	actx, cancel := chromedp.NewExecAllocator(t.Context(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	admin := c.base + AdminPrefix
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("maria:maria-pw"))
	_, err = chromedp.Call(ctx, network.Enable, network.EnableParams{})
	require.NoError(t, err)
	_, err = chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": auth}})
	require.NoError(t, err)
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		require.NoError(t, chromedp.Do(ctx, steps...), what)
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err, "text of %s", sel)
		return s
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		require.NoError(t, err, "screenshot %s", name)
		require.NoError(t, os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644))
	}
	grant := func(role string) {
		t.Helper()
		do("the grant form",
			chromedp.SetValue(chromedp.CSS(`form[method=post] select[name=kind]`), "user"),
			chromedp.SetValue(chromedp.CSS(`form[method=post] input[name=id]`), "alice"),
			chromedp.SetValue(chromedp.CSS(`form[method=post] input[name=role]`), role),
			chromedp.Click(chromedp.CSS(`form[method=post] button[value=grant]`)),
		)
	}

	do("index", chromedp.Navigate(admin+"/"), chromedp.WaitVisible(chromedp.CSS("h1")))
	title := text("h1")
	shot("index")
	do("policy", chromedp.Navigate(admin+"/policy"), chromedp.WaitVisible(chromedp.CSS("table")))
	shot("policy")

	// Bob's draft: alice holds nothing on it yet. maria makes her a
	// reviewer there.
	do("object", chromedp.Navigate(admin+"/object?type=blog.post&id=3"), chromedp.WaitVisible(chromedp.CSS("table")))
	reviewers := func(table string) int { return strings.Count(table, "local role blog.reviewer on blog.post:3") }
	require.Equal(t, 1, reviewers(text("table")), "before the grant: rita reviews post 3")
	grant("blog.reviewer")
	do("after the grant", chromedp.WaitVisible(chromedp.CSS(".flash")))
	flash, holders := text(".flash"), text("table")
	shot("object")

	// The editor role is not hers to give: refused on the form.
	grant("blog.editor")
	do("after the refused grant", chromedp.WaitVisible(chromedp.CSS(".error")))
	refusal := text(".error")
	shot("refused")

	do("principal", chromedp.Navigate(admin+"/principal?kind=user&id=alice"), chromedp.WaitVisible(chromedp.CSS("h2")))
	shot("principal")
	do("explain", chromedp.Navigate(admin+"/explain?user=alice&perm=blog.view_post&type=blog.post&id=3"), chromedp.WaitVisible(chromedp.CSS("h2")))
	shot("explain")
	do("audit", chromedp.Navigate(admin+"/audit"), chromedp.WaitVisible(chromedp.CSS("table")))
	audit := text("table")
	shot("audit")

	require.Equal(t, "Access management", title)
	require.Contains(t, flash, "Done: grant")
	require.Equal(t, 2, reviewers(holders), "alice reviews post 3 too:\n%s", holders)
	require.Contains(t, holders, "user:alice\tblog.add_post, blog.view_post")
	require.Contains(t, refusal, "Refused:")
	require.Contains(t, refusal, "lacks blog.add_post", "the editor role gives blog.add_post, which maria does not hold")
	require.Contains(t, audit, "applied")
	require.Contains(t, audit, "refused")
	ok, err := app.checker.Check(t.Context(), userByID("alice"), PermView, &Post{ID: "3", Owner: "bob", Section: "life", Status: "draft"})
	require.NoError(t, err)
	require.True(t, ok.Allowed, "alice reviews post 3 now: %v", ok)
	t.Logf("screenshots in %s", shots)
}
