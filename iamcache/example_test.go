package iamcache_test

import (
	"context"
	"fmt"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamcache"
)

// A Checker over a cache over a store: repeated checks are answered from
// the cache, and a write through the cache is visible to the next check.
func Example() {
	ctx := context.Background()
	editor := &iam.Role{Name: "blog.editor", Perms: []string{"blog.change_post"}}
	store := iamcache.New(iam.NewMemoryStore(), iamcache.Options{TTL: iamcache.DefaultTTL})
	checker, err := iam.New(iam.Policy{Roles: []*iam.Role{editor}}, store)
	if err != nil {
		panic(err)
	}
	alice := user{"alice"}
	post := iam.Ref{Type: "blog.post", ID: "42"}

	// A denied check reads 5 entries: alice's holding, the post's parents,
	// and the grants on the post, on its type and global ones.
	fmt.Println(checker.HasPerm(ctx, alice, "blog.change_post", post)) // cold: 5 misses, "nothing" is cached too
	fmt.Println(checker.HasPerm(ctx, alice, "blog.change_post", post)) // warm: hits only, no store read

	// A write through the cache invalidates what it changes.
	if err := store.Grant(ctx, iam.Grant{Holder: iam.User("alice"), Role: "blog.editor", On: post}); err != nil {
		panic(err)
	}
	fmt.Println(checker.HasPerm(ctx, alice, "blog.change_post", post)) // 1 miss: alice's role on the post answers alone

	// Changes made elsewhere are reported with Invalidate.
	if err := store.Inner().Revoke(ctx, iam.Grant{Holder: iam.User("alice"), Role: "blog.editor", On: post}); err != nil {
		panic(err)
	}
	store.Invalidate(iamcache.GrantsKey(post))
	fmt.Println(checker.HasPerm(ctx, alice, "blog.change_post", post))

	st := store.Stats()
	fmt.Printf("hits %d, misses %d, invalidations %d\n", st.Hits, st.Misses, st.Invalidations)
	// Output:
	// false
	// false
	// true
	// false
	// hits 12, misses 7, invalidations 2
}
