// Command contractdoc links each numbered line of docs/contract.md to the
// tests that cover it: the functions whose comments say "contract N".
//
//	go run ./internal/contractdoc      # rewrite docs/contract.md
//	go run ./internal/contractdoc -l   # list the lines no test names
//
// Its test fails when docs/contract.md is out of date or a line has no
// test, so the links cannot rot.
package main

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// mention is how a test names a contract line in a comment.
var mention = regexp.MustCompile(`\bcontract (\d+[a-z]?)\b`)

// item is a numbered line of the contract.
var item = regexp.MustCompile(`^(\d+[a-z]?)\. `)

// testsPrefix starts the generated line under an item.
const testsPrefix = "   - Tests: "

// planned marks a line of something not built yet: it needs no test.
const planned = "*Planned, not built yet.*"

// maxLinks bounds the links listed under one line.
const maxLinks = 8

func main() {
	list := flag.Bool("l", false, "list the contract lines no test names, and exit 1 if any")
	flag.Parse()
	root, err := moduleRoot()
	if err != nil {
		fail(err)
	}
	doc := filepath.Join(root, "docs", "contract.md")
	old, err := os.ReadFile(doc)
	if err != nil {
		fail(err)
	}
	refs, err := scan(root)
	if err != nil {
		fail(err)
	}
	out, missing := render(string(old), refs)
	if *list {
		for _, m := range missing {
			fmt.Println("contract", m, "has no test")
		}
		if len(missing) > 0 {
			os.Exit(1)
		}
		return
	}
	if err := os.WriteFile(doc, []byte(out), 0o644); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "contractdoc:", err)
	os.Exit(1)
}

// moduleRoot is the directory of the iam module's go.mod, found upwards
// from the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/iamgo/iam\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of github.com/iamgo/iam above the working directory")
		}
		dir = parent
	}
}

// ref is one test function that names a contract line.
type ref struct {
	name string // the function, e.g. TestAnonymousSubjects or (*suite).testGrantInvalidRef
	file string // relative to the module root, slash-separated
}

// scan finds, in every test file and in the iamtest suites of the module,
// the test functions whose comments name a contract line.
func scan(root string) (map[string][]ref, error) {
	refs := map[string][]ref{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." && (strings.HasPrefix(d.Name(), ".") || rel == "benchmarks") {
				return filepath.SkipDir // another module, or not source
			}
			return nil
		}
		if !strings.HasSuffix(rel, "_test.go") && !strings.HasPrefix(rel, "iamtest/") {
			return nil
		}
		if !strings.HasSuffix(rel, ".go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || !isTest(fn) {
				continue
			}
			seen := map[string]bool{}
			for _, cg := range f.Comments {
				inside := cg.Pos() >= fn.Pos() && cg.End() <= fn.End()
				if cg != fn.Doc && !inside {
					continue
				}
				for _, m := range mention.FindAllStringSubmatch(cg.Text(), -1) {
					seen[m[1]] = true
				}
			}
			for n := range seen {
				refs[n] = append(refs[n], ref{name: funcName(fn), file: rel})
			}
		}
		return nil
	})
	return refs, err
}

// isTest reports whether fn is a test: a Test, Benchmark or Example
// function, or a method of a conformance suite (iamtest's test* methods).
func isTest(fn *ast.FuncDecl) bool {
	n := fn.Name.Name
	if fn.Recv != nil {
		return strings.HasPrefix(n, "test")
	}
	return strings.HasPrefix(n, "Test") || strings.HasPrefix(n, "Benchmark") || strings.HasPrefix(n, "Example")
}

func funcName(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return fn.Name.Name
	}
	t := fn.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name + "." + fn.Name.Name
	}
	return fn.Name.Name
}

// render returns doc with a Tests line under every numbered line (the
// old ones replaced), and the numbers no test names.
func render(doc string, refs map[string][]ref) (string, []string) {
	var b strings.Builder
	var missing []string
	lines := strings.Split(strings.TrimRight(doc, "\n"), "\n")
	// A mention of a part of a line ("contract 4a" for line 4's (a))
	// counts for the line.
	items := map[string]bool{}
	for _, l := range lines {
		if m := item.FindStringSubmatch(l); m != nil {
			items[m[1]] = true
		}
	}
	byItem := map[string][]ref{}
	for n, rs := range refs {
		if !items[n] {
			n = strings.TrimRight(n, "abcdefghijklmnopqrstuvwxyz")
		}
		byItem[n] = append(byItem[n], rs...)
	}
	for n := range byItem {
		slices.SortFunc(byItem[n], func(a, b ref) int { return strings.Compare(a.file+a.name, b.file+b.name) })
		byItem[n] = slices.Compact(byItem[n])
	}
	for _, l := range lines {
		if strings.HasPrefix(l, testsPrefix) {
			continue
		}
		b.WriteString(l + "\n")
		m := item.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		rs := byItem[m[1]]
		if len(rs) == 0 {
			if !strings.Contains(l, planned) {
				missing = append(missing, m[1])
			}
			continue
		}
		var links []string
		for i, r := range rs {
			if i == maxLinks {
				links = append(links, fmt.Sprintf("and %d more", len(rs)-maxLinks))
				break
			}
			links = append(links, fmt.Sprintf("[%s](../%s)", r.name, r.file))
		}
		b.WriteString(testsPrefix + strings.Join(links, ", ") + "\n")
	}
	return b.String(), missing
}
