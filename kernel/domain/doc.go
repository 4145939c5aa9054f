// Package domain is the domain manager of the domain kernel: it creates,
// lists, terminates and re-creates domains, binds the capabilities they call
// each other through, and turns every panic of a domain into the failure of
// that domain only.
//
// # The model
//
// A domain is a Go package compiled into the image (marked //rl:domain and
// checked by rlbuild vet) that registers a constructor under a kind name
// (Register). The Manager instantiates it at run time, any number of times,
// with a Context holding exactly what it was granted (CreateOption): other
// domains' interfaces, devices (kernel objects) and RRefs. Nothing is
// ambient. The instance returns its implementation of one IDL interface,
// which the kernel never hands out as such.
//
// Domains call each other only through IDL interfaces (package idl), and
// every interface value a domain holds is a generated proxy (or shadow)
// bound to the pair (holder, callee): the capability. Go has no
// thread-local storage, so that binding is how the kernel knows, with no
// lookup per call, whom a call charges, whose RRefs move where, and whose
// liveness to check. Revoking a capability fails that one proxy.
//
// On each call a proxy (cmd/idlgen writes them, see Crossing):
//
//   - checks that both sides are alive and the capability is not revoked,
//     and counts the call (Crossing.Enter);
//   - moves RRef and Deque arguments to the callee, lends Borrow arguments,
//     rebinds capability arguments (package rref);
//   - calls the callee on the caller's goroutine, under a deferred recover;
//   - moves RRef results back, or, if the callee panicked, fails the callee
//     (its RRefs are reclaimed, its devices reset, every capability to it
//     breaks), gives back the RRefs the call had taken, and returns the
//     callee's *FailedError to the caller (Crossing.Leave).
//
// # Threads and unwinding
//
// Threads inside a domain come only from Context.Spawn (vet rejects go
// statements), so each is attributed to its domain and a panic on it fails
// that domain. A thread is a Go goroutine, and Go cannot kill one: when a
// domain dies, each of its threads stops at its next crossing or kernel
// call. A thread of its own (with no other domain's code on its stack) ends
// there with runtime.Goexit, which runs its deferred calls and which no
// recover can catch (fmt recovers the panics of the String methods it
// calls; a domain could too). A thread of another domain inside the dead
// one (or one of its own inside a call into another domain that called it
// back) unwinds instead with a private panic value that the crossing it came
// in through recovers, returning the *FailedError to the domain below, whose
// code is not cut short; that value re-panics when fmt prints it, so fmt
// does not swallow it either. Threads waiting on something select on
// Context.Done. The threads of a dead domain that have not stopped yet are
// counted (Stats.Lingering).
//
// # Deadlines
//
// A capability bound with Deadline runs each call on a kernel worker while
// the caller waits, so that the caller gets control back from a callee that
// never returns: the callee is failed, the caller waits one more deadline
// for the worker (which the dead callee's next crossing or kernel call
// unwinds, so that the proxy gives back what the call moved), and past that
// the worker is abandoned and counted (Stats.Stuck) and the call forfeits
// what it moved (see deadline.go). Without a deadline a call runs on the caller's goroutine,
// at a fraction of the cost, and a callee that never returns holds its
// caller. What Go cannot recover from at all is in docs/ARCHITECTURE.md.
//
// Deadlines are on the machine's clock: a process that does not get a CPU
// for longer than a deadline (an overloaded machine stalls it for seconds)
// fails a callee that would have returned, and after a stall that outlasts
// the nested deadlines of a hung call, all of them past, the callee that
// fails is the one whose waiting caller runs first, not always the deepest.
//
// # Choices, and why
//
//   - Deadlines are per capability, not per call or global: a call without
//     one costs ~7 ns and runs on the caller's goroutine; one with a deadline
//     needs a second goroutine (~1 µs), since Go cannot take control back
//     from a goroutine any other way. Bind untrusted or hang-prone callees
//     with one; nest them (a caller's longer than its callee's).
//   - A failed call gives back the RRefs it moved if the callee still held
//     them (rref.Rescue). RedLeaf loses them; keeping them is what lets a
//     shadow retry a call that moved a buffer in. A batch (an rref.Deque)
//     comes back even when the callee was killed holding it, whose heap's
//     reclaim took it: Leave waits for the death to be complete, and
//     rref.RescueDeque revives the deque and its elements for the caller.
//   - A call into a callee that dies during it fails, even if it returns:
//     the proxy cannot tell a result computed before the death from one
//     computed after, and this is also what keeps cells moved to a dying
//     domain from leaking (see Crossing.Leave).
//   - A granted domain that died is imported as a broken capability rather
//     than an error, so that a restarted instance starts the same way its
//     first did and reports the dependency's failure when it uses it.
//   - Generated capability types are recognized by the package they are
//     declared in (IsGenerated), which no domain can add types to: passing a
//     value of the domain's own type that merely has the methods of a
//     capability yields a proxy to that value, never the value.
//   - The kernel's values cannot be forged, and it checks, not trusts: a
//     *Domain holder or a *Crossing the kernel did not make is refused, so
//     is a heap account the mint did not make (package rref); kinds,
//     proxies and shadows are registered only during the initialization of
//     the package that defines them (the IDL package, for proxies and
//     shadows), and the first Create seals the registries; a kind name two
//     packages register is nobody's. The stack tells who is calling, since
//     Go has no thread-local storage: it is read in kernel code, off the
//     per-call path.
//   - Errors cross as values (PassError): a callee's error methods run
//     inside the crossing, never later on the caller's thread.
//
// # Invariants
//
//   - Every interface value a domain gets from the kernel, and every
//     capability it receives in a call, is of a generated type declared in
//     the interface's IDL package (IsGenerated); a domain cannot forge one.
//   - An instance dies once, and the kernel keeps one record of its death;
//     every observer gets a copy (Domain.Failed recognizes one), and the
//     record is described without running any code of a domain (a panic
//     value of a domain's type is named by its type). Dying closes Done, marks every crossing it is a side of
//     for the slow path, resets its granted devices, then closes its heap
//     account (reclaiming its RRefs: a device no longer writes into a cell
//     its driver had put in a DMA ring when the cell goes back to its
//     pool) and records the event, before it returns;
//     and nobody gets the *FailedError (a caller, Kill, Restart, a thread
//     unwinding) before that, even from another thread than the one that
//     failed the instance. So a restarted instance never has its devices
//     reset by its predecessor's death.
//   - The per-call path takes no lock and touches no shared counter: one
//     atomic add on the crossing's own cache line and one atomic load. The
//     listing sums the per-crossing counters; a crossing whose other side
//     died is retired into its survivor's totals.
//   - Lock order: Domain.mu of the lower id, then of the higher; Manager.mu
//     is never held while taking a Domain.mu, nor the other way round.
package domain
