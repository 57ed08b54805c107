// Command iam-schema prints the iamsql schema migrations as one SQL script,
// for teams that apply migrations with their own tool (then open the store
// with iamsql.Options{SkipMigrations: true}).
//
//	go run github.com/iamgo/iam/iamsql/cmd/iam-schema postgres > iam.sql
//	go run github.com/iamgo/iam/iamsql/cmd/iam-schema sqlite
package main

import (
	"fmt"
	"os"

	"github.com/iamgo/iam/iamsql"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: iam-schema postgres|sqlite")
		os.Exit(2)
	}
	var d iamsql.Dialect
	switch os.Args[1] {
	case "postgres", "postgresql":
		d = iamsql.Postgres
	case "sqlite":
		d = iamsql.SQLite
	default:
		fmt.Fprintf(os.Stderr, "iam-schema: unknown dialect %q (postgres or sqlite)\n", os.Args[1])
		os.Exit(2)
	}
	script, err := iamsql.MigrationScript(d)
	if err != nil {
		fmt.Fprintln(os.Stderr, "iam-schema:", err)
		os.Exit(1)
	}
	fmt.Print(script)
}
