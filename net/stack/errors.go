package stack

import "errors"

// Errors of the socket calls. They are sentinels: compare with errors.Is.
var (
	ErrWouldBlock   = errors.New("stack: operation would block; poll the stack and try again")
	ErrClosed       = errors.New("stack: socket is closed")
	ErrReset        = errors.New("stack: connection reset by peer")
	ErrRefused      = errors.New("stack: connection refused")
	ErrTimeout      = errors.New("stack: connection timed out (no acknowledgement after the retransmission limit)")
	ErrAborted      = errors.New("stack: connection aborted")
	ErrAddrInUse    = errors.New("stack: address already in use")
	ErrTooMany      = errors.New("stack: no free socket slot (raise Config.MaxConns or Config.MaxUDP)")
	ErrNotConnected = errors.New("stack: socket is not connected")
	ErrShutdown     = errors.New("stack: cannot send after shutdown")
	ErrMessageSize  = errors.New("stack: message longer than the MTU allows")
	ErrInvalid      = errors.New("stack: invalid argument")
	ErrNoRoute      = errors.New("stack: no route to host (off-link address and no gateway)")
	ErrNoAddr       = errors.New("stack: the interface has no IPv4 address yet (DHCP has not got a lease)")
	ErrAddrLost     = errors.New("stack: the interface lost its IPv4 address (its DHCP lease ended or changed)")
)
