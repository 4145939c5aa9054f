// Package natsengine is the lab engine on NATS JetStream: a work-queue
// stream per lab segment (tasks pulled by that lab's agents, acked when
// done, kept by in-progress acks during long boots, redelivered when an
// agent dies), a key-value bucket of run state and results, a bucket of
// machine leases whose entries carry a per-message TTL (renewed by
// heartbeat; a lapsed lease vanishes on the server) and whose revision is
// the fencing token, and an object store of console logs. Everything is
// on disk in the server's store directory, so a hub restarted with the
// same directory goes on where it was.
//
// Embed starts nats-server in-process (the default: `rlbuild lab run`
// alone on one machine); Connect reaches an external server or cluster
// (with a leaf node per lab when a user outgrows one machine).
package natsengine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rlgo/redleaf/lab/engine"
)

// Names of the JetStream assets.
const (
	StateBucket = "rl_lab"
	LeaseBucket = "rl_leases"
	LogBucket   = "rl_logs"
	streamPre   = "RL_LAB_"
	subjectPre  = "rl.lab."
	consumer    = "agents"
)

// AckWait is how long a pulled task stays with its agent without an
// in-progress heartbeat; agents beat at a third of it.
const AckWait = 30 * time.Second

// EmbedOptions configure an embedded server.
type EmbedOptions struct {
	// StoreDir keeps the streams, buckets and logs (required: that is
	// what survives a restart).
	StoreDir string
	// Listen is the client address, host:port ("127.0.0.1:0" picks a
	// free port on loopback; "" as well).
	Listen string
	// LeafListen, if set, accepts leaf-node connections (host:port)
	// from lab segments' own servers.
	LeafListen string
	// Log gets the server's notices (nil: none).
	Log *slog.Logger
	// Token, if set, is required of every client (Connect's token).
	Token string
	// Domain is the JetStream domain (default Domain when LeafListen is
	// set): clients behind a site's leaf node reach the hub's engine
	// through it (ConnectDomain).
	Domain string
}

// Domain is the hub's JetStream domain when it accepts leaf nodes.
const Domain = "rlbuild"

// Embed starts a nats-server with JetStream in this process. Close the
// server with Shutdown.
func Embed(o EmbedOptions) (*server.Server, error) {
	if o.StoreDir == "" {
		return nil, errors.New("natsengine: no store directory: the engine keeps its state on disk")
	}
	if err := os.MkdirAll(o.StoreDir, 0o700); err != nil {
		return nil, fmt.Errorf("natsengine: store directory: %w", err)
	}
	host, port := "127.0.0.1", -1
	if o.Listen != "" {
		h, p, err := net.SplitHostPort(o.Listen)
		if err != nil {
			return nil, fmt.Errorf("natsengine: listen address %q: %v (write host:port, e.g. :4222)", o.Listen, err)
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 65535 {
			return nil, fmt.Errorf("natsengine: listen address %q: bad port", o.Listen)
		}
		if h == "" {
			h = "0.0.0.0"
		}
		host, port = h, n
		if n == 0 {
			port = -1
		}
	}
	opts := &server.Options{
		ServerName: "rlbuild-lab",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   o.StoreDir,
		NoSigs:     true,
		// Bounded resources: a hostile client cannot make the hub hold
		// unbounded payloads or connections.
		MaxPayload:         8 << 20,
		MaxConn:            4096,
		JetStreamMaxMemory: 256 << 20,
	}
	if o.Token != "" {
		opts.Authorization = o.Token
	}
	if o.Domain == "" && o.LeafListen != "" {
		o.Domain = Domain
	}
	opts.JetStreamDomain = o.Domain
	if o.LeafListen != "" {
		h, p, err := net.SplitHostPort(o.LeafListen)
		if err != nil {
			return nil, fmt.Errorf("natsengine: leaf listen address %q: %v", o.LeafListen, err)
		}
		n, _ := strconv.Atoi(p)
		opts.LeafNode.Host, opts.LeafNode.Port = h, n
		if o.Token != "" {
			// A site's leaf node authenticates with the same token.
			opts.LeafNode.Username, opts.LeafNode.Password = "leaf", o.Token
		}
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsengine: %w", err)
	}
	if o.Log != nil {
		s.SetLoggerV2(&logAdapter{o.Log}, false, false, false)
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("natsengine: the embedded server did not start (address %s:%d in use?)", host, port)
	}
	return s, nil
}

// Engine is the engine on a NATS connection.
type Engine struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	state  jetstream.KeyValue
	leases jetstream.KeyValue
	logs   jetstream.ObjectStore
	ownNC  bool

	// AckWait is how long a task stays with an agent that sends no
	// heartbeat (default AckWait); set it before the first use.
	AckWait time.Duration

	mu    sync.Mutex
	cons  map[string]jetstream.Consumer
	strms map[string]jetstream.Stream
}

// Open connects to an in-process server (with its token, if it has one).
func Open(ctx context.Context, s *server.Server, name string, token ...string) (*Engine, error) {
	opts := []nats.Option{nats.InProcessServer(s), nats.Name(name), nats.MaxReconnects(-1), quietClose}
	if len(token) > 0 && token[0] != "" {
		opts = append(opts, nats.Token(token[0]))
	}
	nc, err := nats.Connect("", opts...)
	if err != nil {
		return nil, fmt.Errorf("natsengine: %w", err)
	}
	e, err := New(ctx, nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	e.ownNC = true
	return e, nil
}

// Connect connects to a server or cluster by URL (nats://host:4222),
// reconnecting for ever when it goes away. token is the hub's
// authorization token ("" for none).
func Connect(ctx context.Context, url, name string, token ...string) (*Engine, error) {
	tok := ""
	if len(token) > 0 {
		tok = token[0]
	}
	return ConnectDomain(ctx, url, name, tok, "")
}

// ConnectDomain is Connect to the engine of a JetStream domain: an agent
// on a site's leaf node reaches the hub's engine (domain Domain).
func ConnectDomain(ctx context.Context, url, name, token, domain string) (*Engine, error) {
	opts := []nats.Option{nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(500 * time.Millisecond), quietClose,
		nats.RetryOnFailedConnect(false), nats.Timeout(10 * time.Second)}
	if token != "" {
		opts = append(opts, nats.Token(token))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("natsengine: connecting to %s: %w (is `rlbuild lab serve` running there?)", url, err)
	}
	e, err := newEngine(ctx, nc, domain)
	if err != nil {
		nc.Close()
		return nil, err
	}
	e.ownNC = true
	return e, nil
}

// quietClose drops the asynchronous errors of a connection that is
// closing (a pipe closed under an in-process connection at shutdown);
// others go to stderr as nats.go's default handler does.
var quietClose = nats.ErrorHandler(func(nc *nats.Conn, sub *nats.Subscription, err error) {
	if nc.IsClosed() || nc.IsDraining() || errors.Is(err, io.ErrClosedPipe) {
		return
	}
	fmt.Fprintf(os.Stderr, "nats: %v\n", err)
})

// New makes the engine's buckets on nc (if missing) and returns it.
func New(ctx context.Context, nc *nats.Conn) (*Engine, error) { return newEngine(ctx, nc, "") }

func newEngine(ctx context.Context, nc *nats.Conn, domain string) (*Engine, error) {
	var js jetstream.JetStream
	var err error
	if domain != "" {
		js, err = jetstream.NewWithDomain(nc, domain)
	} else {
		js, err = jetstream.New(nc)
	}
	if err != nil {
		return nil, err
	}
	e := &Engine{nc: nc, js: js, cons: map[string]jetstream.Consumer{}, strms: map[string]jetstream.Stream{}}
	if e.state, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: StateBucket, Description: "rlbuild lab: runs, cells, attempts, machines", Storage: jetstream.FileStorage,
		MaxValueSize: 2 << 20, History: 1,
	}); err != nil {
		return nil, fmt.Errorf("natsengine: state bucket: %w", err)
	}
	if e.leases, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: LeaseBucket, Description: "rlbuild lab: machine leases", Storage: jetstream.FileStorage,
		MaxValueSize: 4 << 10, History: 1, LimitMarkerTTL: time.Second,
	}); err != nil {
		return nil, fmt.Errorf("natsengine: lease bucket (needs nats-server 2.11 or later): %w", err)
	}
	if e.logs, err = js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket: LogBucket, Description: "rlbuild lab: console logs", Storage: jetstream.FileStorage,
	}); err != nil {
		return nil, fmt.Errorf("natsengine: log store: %w", err)
	}
	return e, nil
}

// Conn is the NATS connection.
func (e *Engine) Conn() *nats.Conn { return e.nc }

// Close closes the connection if the engine opened it.
func (e *Engine) Close() error {
	if e.ownNC {
		e.nc.Drain()
	}
	return nil
}

var _ engine.Engine = (*Engine)(nil)

// OpTimeout bounds each request to the server: a request sent while the
// connection is down may never be answered, and callers retry.
const OpTimeout = 10 * time.Second

func op(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, OpTimeout)
}

// lab returns the lab's stream and consumer, creating them.
func (e *Engine) lab(ctx context.Context, lab string) (jetstream.Stream, jetstream.Consumer, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c := e.cons[lab]; c != nil {
		return e.strms[lab], c, nil
	}
	st, err := e.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: streamPre + lab, Description: "rlbuild lab " + lab + ": tasks for its agents",
		Subjects: []string{subjectPre + lab + ".>"}, Retention: jetstream.WorkQueuePolicy,
		Storage: jetstream.FileStorage, Duplicates: 10 * time.Minute, MaxMsgSize: 1 << 20,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("natsengine: stream of lab %s: %w", lab, err)
	}
	c, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: consumer, AckPolicy: jetstream.AckExplicitPolicy, AckWait: e.ackWait(),
		MaxDeliver: -1, MaxWaiting: 16384, MaxAckPending: 1 << 20,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("natsengine: consumer of lab %s: %w", lab, err)
	}
	e.strms[lab], e.cons[lab] = st, c
	return st, c, nil
}

func (e *Engine) ackWait() time.Duration {
	if e.AckWait > 0 {
		return e.AckWait
	}
	return AckWait
}

// HeartbeatEvery is how often a task's holder must send InProgress.
func (e *Engine) HeartbeatEvery() time.Duration { return e.ackWait() / 3 }

// Publish queues a task; id deduplicates it within 10 minutes.
func (e *Engine) Publish(ctx context.Context, lab, id string, task []byte) error {
	ctx, cancel := op(ctx)
	defer cancel()
	if _, _, err := e.lab(ctx, lab); err != nil {
		return err
	}
	run, _, _ := strings.Cut(id, ".")
	_, err := e.js.Publish(ctx, subjectPre+lab+"."+run, task, jetstream.WithMsgID(id))
	return err
}

// PurgeRun drops a run's queued tasks.
func (e *Engine) PurgeRun(ctx context.Context, lab, run string) error {
	ctx, cancel := op(ctx)
	defer cancel()
	st, _, err := e.lab(ctx, lab)
	if err != nil {
		return err
	}
	return st.Purge(ctx, jetstream.WithPurgeSubject(subjectPre+lab+"."+run))
}

// Pull waits for a task.
func (e *Engine) Pull(ctx context.Context, lab string) (engine.Delivery, error) {
	for {
		_, c, err := e.lab(ctx, lab)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			// The hub may be restarting: wait and try again.
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Second):
			}
			continue
		}
		wait := 5 * time.Second
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			wait = max(time.Until(dl), 10*time.Millisecond)
		}
		fctx, fcancel := context.WithTimeout(ctx, wait)
		m, err := c.Next(jetstream.FetchContext(fctx))
		fcancel()
		if err == nil {
			return delivery{m}, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, nats.ErrTimeout) || errors.Is(err, jetstream.ErrNoMessages) || errors.Is(err, context.DeadlineExceeded) {
			continue
		}
		if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
			e.mu.Lock()
			delete(e.cons, lab)
			e.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

type delivery struct{ m jetstream.Msg }

func (d delivery) Data() []byte { return d.m.Data() }
func (d delivery) NumDelivered() uint64 {
	md, err := d.m.Metadata()
	if err != nil {
		return 1
	}
	return md.NumDelivered
}
func (d delivery) InProgress() error             { return d.m.InProgress() }
func (d delivery) Ack() error                    { return d.m.DoubleAck(context.Background()) }
func (d delivery) Nak(delay time.Duration) error { return d.m.NakWithDelay(delay) }

func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrObjectNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
		return fmt.Errorf("%w: %v", engine.ErrNotFound, err)
	case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyRevisionMismatch):
		return fmt.Errorf("%w: %v", engine.ErrConflict, err)
	}
	return err
}

// Get reads a key.
func (e *Engine) Get(ctx context.Context, key string) (engine.Entry, error) {
	ctx, cancel := op(ctx)
	defer cancel()
	en, err := e.state.Get(ctx, key)
	if err != nil {
		return engine.Entry{}, mapErr(err)
	}
	return engine.Entry{Key: key, Value: en.Value(), Rev: en.Revision()}, nil
}

// Put writes a key.
func (e *Engine) Put(ctx context.Context, key string, val []byte) (uint64, error) {
	ctx, cancel := op(ctx)
	defer cancel()
	rev, err := e.state.Put(ctx, key, val)
	return rev, mapErr(err)
}

// Create writes a new key.
func (e *Engine) Create(ctx context.Context, key string, val []byte) (uint64, error) {
	ctx, cancel := op(ctx)
	defer cancel()
	rev, err := e.state.Create(ctx, key, val)
	return rev, mapErr(err)
}

// Update compares and sets.
func (e *Engine) Update(ctx context.Context, key string, val []byte, rev uint64) (uint64, error) {
	ctx, cancel := op(ctx)
	defer cancel()
	r, err := e.state.Update(ctx, key, val, rev)
	return r, mapErr(err)
}

// Delete removes a key.
func (e *Engine) Delete(ctx context.Context, key string) error {
	ctx, cancel := op(ctx)
	defer cancel()
	return mapErr(e.state.Purge(ctx, key))
}

// Keys lists keys under a dotted prefix.
func (e *Engine) Keys(ctx context.Context, prefix string) ([]string, error) {
	ctx, cancel := op(ctx)
	defer cancel()
	kl, err := e.state.ListKeysFiltered(ctx, prefix+">")
	if err != nil {
		return nil, mapErr(err)
	}
	var out []string
	for k := range kl.Keys() {
		out = append(out, k)
	}
	kl.Stop()
	return out, nil
}

// Watch sends entries under prefix, then changes. Creating the watch is
// bounded by OpTimeout (a request lost in a server restart would wait
// for ever); the watch then lives as long as ctx.
func (e *Engine) Watch(ctx context.Context, prefix string) (<-chan engine.Entry, error) {
	wctx, wcancel := context.WithCancel(ctx)
	type result struct {
		w   jetstream.KeyWatcher
		err error
	}
	made := make(chan result, 1)
	go func() {
		w, err := e.state.Watch(wctx, prefix+">")
		made <- result{w, err}
	}()
	var w jetstream.KeyWatcher
	select {
	case r := <-made:
		if r.err != nil {
			wcancel()
			return nil, mapErr(r.err)
		}
		w = r.w
	case <-time.After(OpTimeout):
		wcancel()
		return nil, fmt.Errorf("natsengine: watching %s: no answer within %v", prefix, OpTimeout)
	}
	out := make(chan engine.Entry, 64)
	go func() {
		defer close(out)
		defer wcancel()
		defer w.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case en, ok := <-w.Updates():
				if !ok {
					return
				}
				if en == nil {
					continue // the end of the initial values
				}
				ent := engine.Entry{Key: en.Key(), Value: en.Value(), Rev: en.Revision(),
					Deleted: en.Operation() != jetstream.KeyValuePut}
				select {
				case out <- ent:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

// Acquire leases a machine.
func (e *Engine) Acquire(ctx context.Context, name string, info engine.LeaseInfo, ttl time.Duration) (*engine.Lease, error) {
	ctx, cancel := op(ctx)
	defer cancel()
	if ttl < time.Second {
		return nil, fmt.Errorf("natsengine: lease TTL %v is below the server's 1 s resolution", ttl)
	}
	info.Machine = name
	info.Expires = time.Now().Add(ttl).UTC()
	b, _ := json.Marshal(info)
	rev, err := e.leases.Create(ctx, name, b, jetstream.KeyTTL(ttl))
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			held := ""
			if en, gerr := e.leases.Get(ctx, name); gerr == nil {
				var other engine.LeaseInfo
				json.Unmarshal(en.Value(), &other)
				held = fmt.Sprintf(" (%s, until %s)", other.Holder, other.Expires.Format(time.RFC3339))
			}
			return nil, fmt.Errorf("%s: %w%s", name, engine.ErrLeaseHeld, held)
		}
		return nil, fmt.Errorf("leasing %s: %w", name, err)
	}
	return &engine.Lease{Name: name, Info: info, Rev: rev, TTL: ttl}, nil
}

// cas republishes the lease with a fresh TTL if its revision is still
// l.Rev, and advances l.Rev.
func (e *Engine) cas(ctx context.Context, l *engine.Lease) error {
	ctx, cancel := op(ctx)
	defer cancel()
	info := l.Info
	info.Expires = time.Now().Add(l.TTL).UTC()
	b, _ := json.Marshal(info)
	m := &nats.Msg{Subject: "$KV." + LeaseBucket + "." + l.Name, Data: b, Header: nats.Header{}}
	pa, err := e.js.PublishMsg(ctx, m, jetstream.WithExpectLastSequencePerSubject(l.Rev), jetstream.WithMsgTTL(l.TTL))
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
			return fmt.Errorf("%s: %w", l.Name, engine.ErrLeaseLost)
		}
		return fmt.Errorf("renewing the lease of %s: %w", l.Name, err)
	}
	l.Rev, l.Info = pa.Sequence, info
	return nil
}

// Renew extends a lease.
func (e *Engine) Renew(ctx context.Context, l *engine.Lease) error { return e.cas(ctx, l) }

// Release ends a lease if it is still this one.
func (e *Engine) Release(ctx context.Context, l *engine.Lease) error {
	ctx, cancel := op(ctx)
	defer cancel()
	err := e.leases.Purge(ctx, l.Name, jetstream.LastRevision(l.Rev))
	if err != nil && (errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) || isWrongSeq(err)) {
		return fmt.Errorf("%s: %w", l.Name, engine.ErrLeaseLost)
	}
	return err
}

func isWrongSeq(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// BreakLease ends a machine's lease whoever holds it.
func (e *Engine) BreakLease(ctx context.Context, name string) error {
	ctx, cancel := op(ctx)
	defer cancel()
	return mapErr(e.leases.Purge(ctx, name))
}

// Leases lists the leases held now.
func (e *Engine) Leases(ctx context.Context) ([]engine.LeaseInfo, error) {
	ctx, cancel := op(ctx)
	defer cancel()
	kl, err := e.leases.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	var names []string
	for k := range kl.Keys() {
		names = append(names, k)
	}
	kl.Stop()
	var out []engine.LeaseInfo
	for _, n := range names {
		en, err := e.leases.Get(ctx, n)
		if err != nil {
			continue // lapsed meanwhile
		}
		var li engine.LeaseInfo
		if json.Unmarshal(en.Value(), &li) == nil {
			out = append(out, li)
		}
	}
	return out, nil
}

// PutFenced writes key while l is held.
func (e *Engine) PutFenced(ctx context.Context, l *engine.Lease, key string, val []byte) error {
	ctx, cancel := op(ctx)
	defer cancel()
	if err := e.cas(ctx, l); err != nil {
		return err
	}
	_, err := e.state.Put(ctx, key, val)
	return mapErr(err)
}

// PutLog stores a log.
func (e *Engine) PutLog(ctx context.Context, name string, r io.Reader) error {
	_, err := e.logs.Put(ctx, jetstream.ObjectMeta{Name: name}, r)
	return err
}

// GetLog opens a stored log.
func (e *Engine) GetLog(ctx context.Context, name string) (io.ReadCloser, error) {
	r, err := e.logs.Get(ctx, name)
	if err != nil {
		return nil, mapErr(err)
	}
	return r, nil
}

type logAdapter struct{ l *slog.Logger }

func (a *logAdapter) Noticef(format string, v ...any) { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a *logAdapter) Warnf(format string, v ...any)   { a.l.Warn(fmt.Sprintf(format, v...)) }
func (a *logAdapter) Fatalf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a *logAdapter) Errorf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a *logAdapter) Debugf(format string, v ...any)  {}
func (a *logAdapter) Tracef(format string, v ...any)  {}
