package rref

import (
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
)

// An Account is an owner on the shared heap: one per domain (and one for the
// kernel). Its id is the domain's id. The kernel creates accounts (Mint); a
// domain only ever holds its own, through its domain.Context.
//
// Accounts cannot be forged: every function of this package that takes one
// refuses (panics with a *UseError) an Account the Mint did not make, such as
// &rref.Account{}. A copy of an account (*a) is the same account: same id,
// and its closed flag is shared, so a copy kept past its domain's death
// cannot allocate either.
type Account struct {
	id     uint32
	name   string
	closed *atomic.Bool // shared by copies; nil only in a forged Account
}

// lastID numbers accounts and deque containers from one space, so that a cell
// owner names either without ambiguity.
var lastID atomic.Uint32

func newID() uint32 {
	id := lastID.Add(1)
	if id == ownerReclaiming || id == ownerFree {
		panic("rref: owner ids exhausted")
	}
	return id
}

// A Mint makes accounts. There is one, and the kernel claims it when it
// starts (package domain does, at initialization, before any domain package
// can): a domain that could make accounts could lend cells to itself and
// keep them lent past its death.
type Mint struct{ _ byte }

// mintHolder is the one package that may claim the mint.
const mintHolder = "github.com/rlgo/redleaf/kernel/domain"

var (
	minted  atomic.Bool
	theMint *Mint // the claimed mint; written once, by ClaimMint
)

// ClaimMint returns the Mint, to package domain only. It panics if another
// package calls it, or if it was claimed already.
func ClaimMint() *Mint {
	if pkg := callerPackage(2); pkg != mintHolder {
		panic(fmt.Sprintf("rref: ClaimMint called by %s: only %s may claim the account mint", pkg, mintHolder))
	}
	if minted.Swap(true) {
		panic("rref: the account mint was claimed already")
	}
	theMint = &Mint{}
	return theMint
}

// NewAccount returns a new, open account. name is for messages only. It
// panics unless m is the claimed mint (a Mint value made any other way makes
// nothing).
func (m *Mint) NewAccount(name string) *Account {
	if m == nil || m != theMint {
		panic(&UseError{Op: "NewAccount", Reason: "not the kernel's mint: accounts come from the kernel only"})
	}
	return newAccount(name)
}

func newAccount(name string) *Account {
	return &Account{id: newID(), name: name, closed: new(atomic.Bool)}
}

// callerPackage is the import path of the package of the function skip
// frames up the stack (1: the caller of callerPackage).
func callerPackage(skip int) string {
	pc, _, _, ok := runtime.Caller(skip)
	if !ok {
		return ""
	}
	f := runtime.FuncForPC(pc)
	if f == nil {
		return ""
	}
	name := f.Name()
	i := strings.LastIndexByte(name, '/') + 1
	if j := strings.IndexByte(name[i:], '.'); j >= 0 {
		return name[:i+j]
	}
	return name
}

// genuine reports whether a was made by the Mint (or is a copy of such an
// account).
func (a *Account) genuine() bool { return a != nil && a.closed != nil }

// mustAccount panics with a *UseError naming op unless a is genuine.
func mustAccount(op string, a *Account) {
	if !a.genuine() {
		panic(&UseError{Op: op, Reason: "forged account (not made by the kernel): refused"})
	}
}

// ID is the account's owner id, as cells record it.
func (a *Account) ID() uint32 { return a.id }

// Name is the name the account was created with.
func (a *Account) Name() string { return a.name }

// Closed reports whether Close was called. A forged account reports true: it
// holds nothing and can be given nothing.
func (a *Account) Closed() bool { return !a.genuine() || a.closed.Load() }

func (a *Account) String() string { return fmt.Sprintf("%s#%d", a.name, a.id) }

// Held counts the live cells the account owns, the elements of its deques
// included.
func (a *Account) Held() int {
	return CountByOwner()[a.id]
}

// Close marks the account closed and reclaims every cell it owns, the
// contents of its deques included; it returns how many cells it reclaimed.
// From then on New and Pool.Get panic with a *UseError for it, and cells
// Move or Rescue give it are reclaimed on the spot. Closing again sweeps
// again: the kernel closes a domain's account when the domain dies (which
// also settles what the proxies' fast-path moves gave it), whatever the
// domain did with its account before.
func (a *Account) Close() int {
	mustAccount("close", a)
	reg.mu.Lock()
	a.closed.Store(true)
	reg.mu.Unlock()
	// Sweep 1: what the account owns. Reclaiming a deque before looking
	// for its elements pairs with Deque.PushBack/PopFront, which re-check
	// the deque after they move an element (see the package doc).
	owners := map[uint32]bool{a.id: true}
	n, cids := reclaimOwned(owners)
	// Sweep 2, and again until a sweep finds no deque the previous ones
	// had not seen: the elements of the deques reclaimed so far, and
	// whatever a racing thread moved to the account meanwhile. A batch a
	// proxy moved in between two sweeps is a deque whose elements only the
	// next sweep reclaims: stopping after a fixed number of sweeps left
	// them owned by a container nobody held (issue 16). Each repeat needs a
	// deque moved in during the sweep before, so the loop ends once the
	// moves do, and they stop: every sender checks the account afterwards.
	for {
		for cid := range cids {
			owners[cid] = true
		}
		m, more := reclaimOwned(owners)
		n += m
		fresh := false
		for cid := range more {
			fresh = fresh || !owners[cid]
		}
		if !fresh {
			return n
		}
		cids = more
	}
}
