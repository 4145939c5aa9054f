// Package rref is the shared heap: the only memory that crosses a domain
// boundary.
//
// An RRef[T] is a handle to one value of an exchangeable type T (plain data:
// no pointers, slices, maps, channels, funcs or interfaces) that lives in a
// cell of the shared heap. Each cell carries, in one 64-bit word, the id of
// the account that owns it (a domain, see Account), a generation and an
// immutable-borrow count; every live cell is in one registry, with its type.
// A cell is what RedLeaf calls an RRef; the handle is how a Go program holds
// it.
//
// # Invariants
//
//   - A handle is valid while the cell's owner and generation are the ones
//     it was issued with. Only valid handles read (Get), move, lend or drop
//     their cell; anything else panics with a *UseError ("fails loudly": the
//     panic ends the misusing domain, not the kernel).
//   - Moving a cell (Move, done by the generated proxies when an RRef is an
//     argument or a result) changes its owner and generation with one
//     compare-and-swap: the sender's handle goes stale, the receiver gets a
//     new one. The payload is never copied.
//   - A lent cell (Lend, for rref.Borrow arguments) cannot be moved or
//     dropped until every borrow ends (Unlend).
//   - A Deque holds RRefs in a container: its elements are owned by the
//     deque's container id, so moving a whole batch is one compare-and-swap.
//   - Closing an account (the domain died) reclaims every cell it owns and
//     every cell held in its deques: pooled cells go back to their pool, the
//     rest to the garbage collector, and the registry count falls back. A
//     cell the dead domain had only borrowed is untouched: it has another
//     owner. A cell lent out by the dead domain is reclaimed when its last
//     borrow ends.
//
// Every change of a cell word is an atomic compare-and-swap, and every
// operation that gives a cell to an account re-checks afterwards that the
// account was not closed meanwhile (a Dekker-style pair with Close, which
// marks the account closed before it sweeps the registry): a zombie thread of
// a dead domain racing with its reclaim never leaks a cell. Go's atomics are
// sequentially consistent, which this argument relies on. The proxies'
// fast paths (TryMove, TryLend) leave that re-check to the proxy, which
// makes it once per call (domain.Crossing.Leave) instead of once per RRef.
//
// # Cost
//
// A move is one compare-and-swap on the cell (about 2.5 ns on the machine
// this was written on, uncontended), so an RRef moved into a call and back
// costs two. They are what makes ownership exact under concurrency: Go's
// only atomic stores are locked instructions too, and plain stores would
// race with the sweep of a dead owner's cells, which must read every cell's
// owner while other domains' threads move theirs. The registry lock is taken
// only to create, drop and reclaim cells, never to move them.
//
// # Word layout
//
//	bits 63..32  owner: account or container id (0 free, 0xffffffff reclaiming)
//	bits 31..10  generation (22 bits, wraps)
//	bits  9..0   immutable borrows in flight (at most 1023)
//
// Owner and generation together make stale handles fail even when a cell
// comes back to the same owner or is recycled from a pool; a stale handle
// could only pass again after exactly 2^22 moves of its cell.
//
// # Who may call what
//
// Domains use New, NewDeque, Pool.Get, the handle methods (Get, Valid,
// Drop, Borrow, Push/Pop on deques) and their own Account (from their
// domain.Context). Move, Rescue, Lend and friends need the accounts of both
// sides of a call, which only the kernel and the generated proxies hold: a
// domain never sees another domain's *Account, so it cannot give a cell to,
// or take one from, anybody but through a proxy. It cannot make one either:
// every function that takes an account refuses one the kernel's Mint did
// not make (&Account{}), a copy of an account is the same account (same
// id, shared closed flag), and a loan is between two different accounts.
// A Borrow is not convertible to an RRef (its fields differ), so a borrower
// cannot turn its loan into the owner's handle.
package rref
