// Package iamcache is a read cache in front of any iam.Store.
//
//	store := iamcache.New(myStore, iamcache.Options{TTL: iamcache.DefaultTTL})
//	checker, err := iam.New(policy, store)
//
// Do not wrap an iamsql.Store: it already has a cache of its own, which its
// PostgreSQL listener keeps up to date across processes; a second cache
// around it would hear no notification and serve revoked access until its
// TTL.
//
// # What is cached
//
// The three reads a check makes: Holding (a user's or a group's profiles and
// memberships), Grants (the grants on one object, one type, or global) and
// Parents (an object's recorded parents, when the inner store is an
// iam.ParentStore). A hit returns the very pointer the store returned, so
// the Checker's compiled form, attached to it, is reused: a warm check reads
// no store and allocates nothing.
//
// Negative results are cached too: an unknown principal (nil Holding) or a
// ref without grants (nil GrantSet) is served from the cache like any other
// answer. Errors are never cached, nor is anything from a batch load that
// failed: the next read asks the store again.
//
// # TTL
//
// An entry is served for at most Options.TTL after the read that filled it
// began; then the next read reloads it. A TTL of zero (the zero Options) or
// less disables caching: every read goes to the store. There is no "cache
// forever": the TTL bounds staleness when invalidations stop arriving
// (docs/contract.md line 16; the SQL store uses DefaultTTL).
//
// With a custom clock (Options.Now) every hit reads it. With the real clock
// a hit reads a coarse clock instead, an atomic value that a timer refreshes
// every 10 ms while the cache is in use (reading the real clock would cost
// more than the rest of a hit). The coarse value is never ahead of real
// time; an entry is served on it only while it is more than a guard band
// (TTL/16, at least 250 ms) from its deadline, and in that last band each
// hit checks the exact monotonic clock. So an entry is never served after
// its TTL unless the timer runs more than the guard band late while readers
// run. The timer stops after a second without reads.
//
// # Invalidation
//
// Writes made through the Cache go to the inner store and then invalidate
// what they changed, even when the store returned an error (the write may
// have been applied): PutProfile, SetProfileActive and DeleteProfile the
// holder's Holding; AddMember and RemoveMember the user's Holding; Grant,
// Revoke and DeleteGrantsOn the grants on the ref; SetParents the ref's
// parents. A write that returned is visible to the next read (docs/contract.md
// line 15).
//
// Changes made elsewhere (another process, a notification from the
// database) are reported with Invalidate and the keys HoldingKey, GrantsKey
// and ParentsKey, or with InvalidateAll when changes may have been missed.
//
// # Epoch guard
//
// A load notes an invalidation sequence number before it reads the store.
// When it comes back, it stores its result only if no key of the same shard
// was invalidated, and InvalidateAll was not called, in between: a read that
// raced with a change may return what it read to its own callers, but it
// never leaves that possibly stale value in the cache. Invalidate also makes
// later reads start a new load instead of joining one in flight.
//
// # Misses
//
// Concurrent misses of one key share one load (singleflight). A caller whose
// context ends while it waits returns the context's error at once; a caller
// that got the failure of a load whose leader's context ended (and whose own
// context is fine) loads again itself.
//
// When the inner store implements HoldingLoader, a Holding miss loads the
// user's holding and those of its groups in one round trip; when it
// implements GrantsLoader, a Grants or Parents miss loads the ref's grants,
// its type's and the global grants, and its parents, in one round trip. A
// cold check then costs at most two round trips (plus one per ancestor).
// Entries of a batch that are already cached are kept, not replaced.
//
// # Bypass
//
// Reads whose context comes from Fresh go straight to the inner store and
// neither read nor fill the cache: a fully consistent read.
//
// # Size
//
// Options.MaxEntries bounds the entries (default 1<<20). Keys are spread
// over up to 256 shards, each bounded by MaxEntries divided by the number of
// shards (rounded down, so the total never exceeds MaxEntries). A fill into
// a full shard evicts one entry of that shard chosen at random, preferring
// an expired one among the few it looks at. Expired entries are also
// dropped when a shard's table is rebuilt; until then an expired entry
// stays in place and counts in Stats.Entries. Negative entries count like
// any other, so probing many unknown IDs evicts useful entries (but cannot
// grow the cache past its bound).
//
// # Concurrency
//
// A Cache is safe for concurrent use. The hit path takes no lock: each shard
// is an open-addressing table of immutable entries read with atomic loads;
// fills, invalidations and evictions lock one shard. The hit path does not
// allocate (proved by AllocsPerRun tests, Holding, Grants and a full warm
// Checker.HasPerm); misses do.
package iamcache
