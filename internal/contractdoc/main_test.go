package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// TestContractDocUpToDate: every numbered line of docs/contract.md that is
// built has a test naming it, and the Tests entries are what the tests say
// now.
func TestContractDocUpToDate(t *testing.T) {
	root, err := moduleRoot()
	require.NoError(t, err)
	doc, err := os.ReadFile(filepath.Join(root, "docs", "contract.md"))
	require.NoError(t, err)
	refs, err := scan(root)
	require.NoError(t, err)
	want, missing := render(string(doc), refs)
	require.Empty(t, missing, "contract lines no test names")
	if diff := cmp.Diff(want, string(doc)); diff != "" {
		t.Fatalf("docs/contract.md is out of date: run go run ./internal/contractdoc (-want +got):\n%s", diff)
	}
}

// TestRender: a mention of a part of a line counts for the line, old
// entries are replaced, and a line with no test is reported unless planned.
func TestRender(t *testing.T) {
	doc := "# C\n1. one\n   - Tests: [Old](../old_test.go)\n4. four\n5. five\n6. *Planned, not built yet.* six\n"
	refs := map[string][]ref{
		"1":  {{name: "TestOne", file: "a_test.go"}},
		"4a": {{name: "TestFourA", file: "b_test.go"}},
		"4":  {{name: "TestFour", file: "b_test.go"}},
	}
	got, missing := render(doc, refs)
	want := strings.Join([]string{
		"# C",
		"1. one",
		"   - Tests: [TestOne](../a_test.go)",
		"4. four",
		"   - Tests: [TestFour](../b_test.go), [TestFourA](../b_test.go)",
		"5. five",
		"6. *Planned, not built yet.* six",
		"",
	}, "\n")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("render (-want +got):\n%s", diff)
	}
	require.Equal(t, []string{"5"}, missing)
}
