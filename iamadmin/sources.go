package iamadmin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/iamgo/iam"
)

// AuditSource lists the Manager's audit events for the audit page.
type AuditSource interface {
	// AuditEvents returns up to limit events, newest first, older than the
	// cursor before ("" for the newest), whose actor is actor and whose
	// target is target (each "" for any), and the cursor of the next page
	// ("" when there is none).
	AuditEvents(ctx context.Context, actor, target, before string, limit int) ([]iam.AuditEvent, string, error)
}

// AuditLog keeps the latest audit events in memory, for applications
// without an audit table (and for tests). Pass its Record method as
// iam.ManagerOptions.Audit. It is safe for concurrent use.
type AuditLog struct {
	mu     sync.Mutex
	events []iam.AuditEvent // oldest first
	first  int              // the sequence number of events[0]
	max    int
}

// NewAuditLog returns a log that keeps the last max events (max <= 0:
// 10,000).
func NewAuditLog(max int) *AuditLog {
	if max <= 0 {
		max = 10_000
	}
	return &AuditLog{max: max}
}

// Record keeps e, dropping the oldest event when the log is full.
func (l *AuditLog) Record(_ context.Context, e iam.AuditEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.events) == l.max {
		l.events = slices.Delete(l.events, 0, 1)
		l.first++
	}
	l.events = append(l.events, e)
}

// AuditEvents implements AuditSource. The cursor is an event's sequence
// number.
func (l *AuditLog) AuditEvents(_ context.Context, actor, target, before string, limit int) ([]iam.AuditEvent, string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	end := l.first + len(l.events) // sequence numbers below end
	if before != "" {
		n, err := strconv.Atoi(before)
		if err != nil || n < 0 {
			return nil, "", fmt.Errorf("%w: audit cursor %q", iam.ErrInvalid, before)
		}
		end = min(end, n)
	}
	var out []iam.AuditEvent
	for seq := end - 1; seq >= l.first; seq-- {
		e := l.events[seq-l.first]
		if (actor != "" && e.Actor != actor) || (target != "" && e.Change.Target().String() != target) {
			continue
		}
		if len(out) == limit {
			return out, strconv.Itoa(seq + 1), nil
		}
		out = append(out, e)
	}
	return out, "", nil
}

// RequestStore keeps the change requests waiting for approval.
type RequestStore interface {
	// AddRequest keeps r and returns its ID.
	AddRequest(ctx context.Context, r iam.Request) (string, error)
	// PendingRequests returns up to limit requests in the order they were
	// added, after the one whose ID is after ("" for the first page), and
	// the cursor of the next page ("" when there is none).
	PendingRequests(ctx context.Context, after string, limit int) ([]StoredRequest, string, error)
	// Request returns the pending request id (an error wrapping
	// iam.ErrNotFound when there is none).
	Request(ctx context.Context, id string) (iam.Request, error)
	// RemoveRequest removes the request id, once approved or denied
	// (removing a missing one is not an error).
	RemoveRequest(ctx context.Context, id string) error
}

// StoredRequest is a request with its ID.
type StoredRequest struct {
	ID      string
	Request iam.Request
}

// RequestLog is a RequestStore in memory. It is safe for concurrent use.
type RequestLog struct {
	mu   sync.Mutex
	next int
	reqs []StoredRequest
}

// AddRequest implements RequestStore.
func (l *RequestLog) AddRequest(_ context.Context, r iam.Request) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next++
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	// A sequence number keeps the order; the random part keeps IDs from
	// being guessed across restarts.
	id := fmt.Sprintf("%08d-%s", l.next, hex.EncodeToString(b[:]))
	l.reqs = append(l.reqs, StoredRequest{ID: id, Request: r})
	return id, nil
}

// PendingRequests implements RequestStore.
func (l *RequestLog) PendingRequests(_ context.Context, after string, limit int) ([]StoredRequest, string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := 0
	if after != "" {
		i, _ = slices.BinarySearchFunc(l.reqs, after, func(r StoredRequest, id string) int {
			switch {
			case r.ID < id:
				return -1
			case r.ID > id:
				return 1
			}
			return 0
		})
		if i < len(l.reqs) && l.reqs[i].ID == after {
			i++
		}
	}
	end := min(len(l.reqs), i+limit)
	out := slices.Clone(l.reqs[i:end])
	if end < len(l.reqs) && len(out) > 0 {
		return out, out[len(out)-1].ID, nil
	}
	return out, "", nil
}

// Request implements RequestStore.
func (l *RequestLog) Request(_ context.Context, id string) (iam.Request, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := slices.IndexFunc(l.reqs, func(r StoredRequest) bool { return r.ID == id })
	if i < 0 {
		return iam.Request{}, fmt.Errorf("%w: no pending request %q", iam.ErrNotFound, id)
	}
	return l.reqs[i].Request, nil
}

// RemoveRequest implements RequestStore.
func (l *RequestLog) RemoveRequest(_ context.Context, id string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = slices.DeleteFunc(l.reqs, func(r StoredRequest) bool { return r.ID == id })
	return nil
}
