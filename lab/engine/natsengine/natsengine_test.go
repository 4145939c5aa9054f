package natsengine

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/rlgo/redleaf/lab/engine"
)

func start(t *testing.T, dir string) (*server.Server, *Engine) {
	t.Helper()
	s, err := Embed(EmbedOptions{StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	e, err := Open(context.Background(), s, "test")
	if err != nil {
		s.Shutdown()
		t.Fatal(err)
	}
	e.AckWait = 2 * time.Second
	return s, e
}

func TestLeaseExpiryFencingRelease(t *testing.T) {
	s, e := start(t, t.TempDir())
	defer s.Shutdown()
	defer e.Close()
	ctx := context.Background()
	l, err := e.Acquire(ctx, "m1", engine.LeaseInfo{Holder: "a1"}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Acquire(ctx, "m1", engine.LeaseInfo{Holder: "a2"}, time.Second); !errors.Is(err, engine.ErrLeaseHeld) || !strings.Contains(err.Error(), "a1") {
		t.Fatalf("second acquire: %v, want ErrLeaseHeld naming a1", err)
	}
	old := l.Rev
	if err := e.Renew(ctx, l); err != nil || l.Rev <= old {
		t.Fatalf("renew: %v, rev %d -> %d", err, old, l.Rev)
	}
	// A fenced write with the current revision goes through.
	if err := e.PutFenced(ctx, l, "result.r1", []byte("ok")); err != nil {
		t.Fatal(err)
	}
	// Let it lapse: the server removes it; observe by acquiring it.
	var l2 *engine.Lease
	deadline := time.Now().Add(20 * time.Second)
	for {
		l2, err = e.Acquire(ctx, "m1", engine.LeaseInfo{Holder: "a2"}, 5*time.Second)
		if err == nil {
			break
		}
		if !errors.Is(err, engine.ErrLeaseHeld) || time.Now().After(deadline) {
			t.Fatalf("the lapsed lease was not freed: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The first holder's lease lapsed: its writes are fenced off.
	if err := e.PutFenced(ctx, l, "result.r2", []byte("stale")); !errors.Is(err, engine.ErrLeaseLost) {
		t.Fatalf("stale fenced write: %v, want ErrLeaseLost", err)
	}
	if _, err := e.Get(ctx, "result.r2"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("the stale write landed: %v", err)
	}
	if err := e.Renew(ctx, l); !errors.Is(err, engine.ErrLeaseLost) {
		t.Fatalf("stale renew: %v", err)
	}
	if err := e.Release(ctx, l); !errors.Is(err, engine.ErrLeaseLost) {
		t.Fatalf("stale release: %v", err)
	}
	ls, err := e.Leases(ctx)
	if err != nil || len(ls) != 1 || ls[0].Holder != "a2" {
		t.Fatalf("leases %+v %v", ls, err)
	}
	// Release frees at once (cancel).
	if err := e.Release(ctx, l2); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Acquire(ctx, "m1", engine.LeaseInfo{Holder: "a3"}, time.Minute); err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	if err := e.BreakLease(ctx, "m1"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Acquire(ctx, "m1", engine.LeaseInfo{Holder: "a4"}, time.Minute); err != nil {
		t.Fatalf("acquire after break: %v", err)
	}
}

func TestQueueRedeliveryAndDurability(t *testing.T) {
	dir := t.TempDir()
	s, e := start(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, id := range []string{"run1.a", "run1.b", "run1.a"} { // the second a is a duplicate
		if err := e.Publish(ctx, "lab1", id, []byte(id)); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Publish(ctx, "lab1", "run2.c", []byte("run2.c")); err != nil {
		t.Fatal(err)
	}
	if err := e.PurgeRun(ctx, "lab1", "run2"); err != nil {
		t.Fatal(err)
	}
	d, err := e.Pull(ctx, "lab1")
	if err != nil || string(d.Data()) != "run1.a" || d.NumDelivered() != 1 {
		t.Fatalf("pull: %v %v", d, err)
	}
	if err := d.Nak(0); err != nil {
		t.Fatal(err)
	}
	// The nak'd task comes again (after b, which was queued first).
	got := map[string]uint64{}
	for range 2 {
		d, err = e.Pull(ctx, "lab1")
		if err != nil {
			t.Fatal(err)
		}
		got[string(d.Data())] = d.NumDelivered()
		if string(d.Data()) == "run1.a" {
			d.Ack()
		} else {
			// b is not acked: after the restart it comes again
			// once its ack wait has passed (an agent that died).
		}
	}
	if got["run1.a"] != 2 || got["run1.b"] != 1 {
		t.Fatalf("deliveries %v, want a twice and b once", got)
	}
	if _, err := e.Put(ctx, "run.run1", []byte("state")); err != nil {
		t.Fatal(err)
	}
	if err := e.PutLog(ctx, "log.run1.a", strings.NewReader("console bytes")); err != nil {
		t.Fatal(err)
	}
	// Restart the server on the same directory: b is still queued, the
	// state and the log are still there.
	e.Conn().Flush()
	e.Close()
	s.Shutdown()
	s.WaitForShutdown()
	s, e = start(t, dir)
	defer s.Shutdown()
	defer e.Close()
	d, err = e.Pull(ctx, "lab1")
	if err != nil || string(d.Data()) != "run1.b" {
		t.Fatalf("after restart: %v %v", d, err)
	}
	d.Ack()
	if en, err := e.Get(ctx, "run.run1"); err != nil || string(en.Value) != "state" {
		t.Fatalf("state after restart: %v %v", en, err)
	}
	r, err := e.GetLog(ctx, "log.run1.a")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if string(b) != "console bytes" {
		t.Fatalf("log %q", b)
	}
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancelShort()
	if d, err := e.Pull(short, "lab1"); err == nil {
		t.Fatalf("the queue should be empty (run2 purged), got %q", d.Data())
	}
}

func TestKeysWatchCAS(t *testing.T) {
	s, e := start(t, t.TempDir())
	defer s.Shutdown()
	defer e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rev, err := e.Create(ctx, "cell.r1.x", []byte("1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Create(ctx, "cell.r1.x", []byte("1")); !errors.Is(err, engine.ErrConflict) {
		t.Fatalf("create twice: %v", err)
	}
	if _, err := e.Update(ctx, "cell.r1.x", []byte("2"), rev+100); !errors.Is(err, engine.ErrConflict) {
		t.Fatalf("stale update: %v", err)
	}
	if _, err := e.Update(ctx, "cell.r1.x", []byte("2"), rev); err != nil {
		t.Fatal(err)
	}
	e.Put(ctx, "cell.r1.y", []byte("y"))
	e.Put(ctx, "cell.r2.z", []byte("z"))
	keys, err := e.Keys(ctx, "cell.r1.")
	if err != nil || len(keys) != 2 {
		t.Fatalf("keys %v %v", keys, err)
	}
	w, err := e.Watch(ctx, "cell.r1.")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for len(seen) < 2 {
		en := <-w
		seen[en.Key] = string(en.Value)
	}
	e.Put(ctx, "cell.r1.w", []byte("new"))
	if en := <-w; en.Key != "cell.r1.w" || string(en.Value) != "new" {
		t.Fatalf("watch got %+v", en)
	}
}

// TestLeafNode: a lab site's own nats-server joined to the hub as a leaf
// node with the hub's token; an agent on the site uses the hub's engine
// through it.
func TestLeafNode(t *testing.T) {
	const tok = "leaf-test-token-0123456789"
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	leafAddr := l.Addr().String()
	l.Close()
	hub, err := Embed(EmbedOptions{StoreDir: t.TempDir(), Token: tok, LeafListen: leafAddr})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Shutdown()
	u, _ := url.Parse("nats-leaf://leaf:" + tok + "@" + leafAddr)
	site, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoSigs: true,
		LeafNode: server.LeafNodeOpts{Remotes: []*server.RemoteLeafOpts{{URLs: []*url.URL{u}}}}})
	if err != nil {
		t.Fatal(err)
	}
	go site.Start()
	defer site.Shutdown()
	if !site.ReadyForConnections(10 * time.Second) {
		t.Fatal("site server not ready")
	}
	deadline := time.Now().Add(30 * time.Second)
	for site.NumLeafNodes() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the site never joined the hub as a leaf node")
		}
		time.Sleep(50 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := ConnectDomain(ctx, site.ClientURL(), "site-agent", "", Domain)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, err := e.Put(ctx, "run.via-leaf", []byte("x")); err != nil {
		t.Fatal(err)
	}
	h, err := Open(ctx, hub, "hub", tok)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if en, err := h.Get(ctx, "run.via-leaf"); err != nil || string(en.Value) != "x" {
		t.Fatalf("the hub does not see the site's write: %v %v", en, err)
	}
	// A wrong token is refused.
	bad, _ := url.Parse("nats-leaf://leaf:wrong@" + leafAddr)
	site2, _ := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoSigs: true,
		LeafNode: server.LeafNodeOpts{Remotes: []*server.RemoteLeafOpts{{URLs: []*url.URL{bad}}}}})
	go site2.Start()
	defer site2.Shutdown()
	site2.ReadyForConnections(10 * time.Second)
	time.Sleep(2 * time.Second)
	if site2.NumLeafNodes() != 0 {
		t.Error("a leaf node with the wrong token joined")
	}
}
