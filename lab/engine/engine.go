// Package engine is what the lab's hub, schedulers and agents share: a
// work queue of tasks per lab segment, a key-value store of run state and
// results, machine leases with a TTL whose revision is a fencing token,
// and a store for console logs. NATS JetStream implements it
// (lab/engine/natsengine); the interface is small so that another
// backend (Temporal, say) could be added without touching the rest.
package engine

import (
	"context"
	"errors"
	"io"
	"time"
)

// Errors every backend returns (wrapped) for the same conditions.
var (
	// ErrNotFound: no such key, lease or log.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a compare-and-set lost (the key changed, or exists).
	ErrConflict = errors.New("changed by someone else")
	// ErrLeaseHeld: the machine is leased by another holder.
	ErrLeaseHeld = errors.New("leased by another holder")
	// ErrLeaseLost: the lease lapsed or was released; a holder that gets
	// this must stop and write nothing more.
	ErrLeaseLost = errors.New("the lease lapsed")
)

// Engine is the lab's shared state and queues.
type Engine interface {
	// Publish queues a task for its lab's agents. id makes it
	// idempotent: a second publish of the same id is dropped.
	Publish(ctx context.Context, lab, id string, task []byte) error
	// Pull waits for the next task of lab (or until ctx ends).
	Pull(ctx context.Context, lab string) (Delivery, error)
	// PurgeRun drops a run's tasks still queued in lab.
	PurgeRun(ctx context.Context, lab, run string) error

	// Get reads a key.
	Get(ctx context.Context, key string) (Entry, error)
	// Put writes a key unconditionally.
	Put(ctx context.Context, key string, val []byte) (uint64, error)
	// Create writes a key that must not exist (ErrConflict).
	Create(ctx context.Context, key string, val []byte) (uint64, error)
	// Update writes a key whose revision is still rev (ErrConflict).
	Update(ctx context.Context, key string, val []byte, rev uint64) (uint64, error)
	// Delete removes a key.
	Delete(ctx context.Context, key string) error
	// Keys lists the keys under prefix (a dotted prefix such as
	// "cell.RUN.").
	Keys(ctx context.Context, prefix string) ([]string, error)
	// Watch sends every current entry under prefix, then the changes,
	// until ctx ends. Deleted entries come with Deleted set.
	Watch(ctx context.Context, prefix string) (<-chan Entry, error)

	// Acquire leases name to holder for ttl (ErrLeaseHeld).
	Acquire(ctx context.Context, name string, l LeaseInfo, ttl time.Duration) (*Lease, error)
	// Renew extends a lease by its TTL; ErrLeaseLost if it lapsed.
	Renew(ctx context.Context, l *Lease) error
	// Release ends a lease at once.
	Release(ctx context.Context, l *Lease) error
	// Leases lists the leases held now.
	Leases(ctx context.Context) ([]LeaseInfo, error)
	// BreakLease ends whatever lease name has (cancel, operator).
	BreakLease(ctx context.Context, name string) error
	// PutFenced writes key only while l is still held: the lease's
	// revision is checked and advanced by a compare-and-set first, so a
	// holder whose lease lapsed gets ErrLeaseLost and writes nothing.
	PutFenced(ctx context.Context, l *Lease, key string, val []byte) error

	// PutLog stores a console log under name.
	PutLog(ctx context.Context, name string, r io.Reader) error
	// GetLog opens a stored log.
	GetLog(ctx context.Context, name string) (io.ReadCloser, error)

	Close() error
}

// Entry is a key's value and revision.
type Entry struct {
	Key     string
	Value   []byte
	Rev     uint64
	Deleted bool
}

// Delivery is one task pulled from a lab's queue. Until it is acked it
// is the puller's; InProgress is the heartbeat that keeps it so during a
// long boot; without one it goes back to the queue (the agent died).
type Delivery interface {
	Data() []byte
	// NumDelivered counts deliveries of this task (1 the first time).
	NumDelivered() uint64
	InProgress() error
	Ack() error
	// Nak puts the task back, to be delivered again after delay.
	Nak(delay time.Duration) error
}

// LeaseInfo is what a lease says: who holds a machine and for what.
type LeaseInfo struct {
	Machine string    `json:"machine"`
	Holder  string    `json:"holder"` // agent
	Run     string    `json:"run,omitempty"`
	Cell    string    `json:"cell,omitempty"`
	Expires time.Time `json:"expires"`
}

// Lease is a held lease. Rev is the fencing token: every renewal and
// fenced write advances it, and only the current one is accepted.
type Lease struct {
	Name string
	Info LeaseInfo
	Rev  uint64
	TTL  time.Duration
}
