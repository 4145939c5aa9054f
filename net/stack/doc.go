//rl:domain

// Package stack is an Ethernet/IPv4 network stack in the style of smoltcp:
// ARP (a cache with timeouts), IPv4 (checksums; fragments are dropped),
// ICMP echo, UDP and TCP, driven entirely by its caller.
//
// The caller owns the thread and the clock. It calls Poll with the current
// time (a monotonic time.Duration from any origin): Poll takes a batch of
// frames from the Link, runs them through the protocols, fires the timers
// that are due and transmits what the sockets have to send in one batch.
// Between polls the caller uses the sockets (Listen, Accept, Dial, Read,
// Write, Close, Shutdown, Ready): they never block; ErrWouldBlock says to
// poll and try again. The stack starts no goroutine, reads no clock and is
// not safe for concurrent use: one thread drives one Stack.
//
// Memory: connection slots, the connection hash table, the transmit arena
// and the ARP cache are allocated by New; a connection's send and receive
// buffers are allocated when a slot is first used and kept for its next
// connections. So after warm-up, receiving, sending and acknowledging
// allocate nothing (BenchmarkTransfer reports 0 allocs/op).
//
// TCP (RFC 9293) has the three-way handshake with a SYN backlog per
// listener, the MSS option, window scaling (RFC 7323; no timestamps), a
// retransmission timer with RTT estimation and Karn's rule (RFC 6298), slow
// start and congestion avoidance (RFC 5681), fast retransmit and NewReno
// recovery (RFC 6582), out-of-order segments kept in the receive buffer
// (up to MaxGaps holes), zero-window probes, FIN and RST handling with the
// RFC 5961 checks, TIME_WAIT (2*MSL) and keep-alive. Initial sequence
// numbers follow RFC 6528, keyed by Config.Seed: the stack has no entropy
// source of its own, so its owner must give it a secret.
package stack
