package netstack

import (
	"fmt"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/rv6/fs/errno"
)

// UDP sockets and the calls every kind of socket answers (Local).

// BindUDP implements idl.Inet.
func (s *Service) BindUDP(port uint16) (int64, error) {
	s.fp.Point(s.ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	i, err := s.alloc("bind udp")
	if err != nil {
		return 0, err
	}
	u, err := s.st.BindUDP(port)
	if err != nil {
		s.socks[i].kind = free
		s.open--
		return 0, errnoOf(fmt.Sprintf("bind udp port %d", port), err)
	}
	s.socks[i].kind, s.socks[i].u = udp, u
	return s.handle(i), nil
}

// SendTo implements idl.Inet.
func (s *Service) SendTo(h int64, addr [4]byte, port uint16, buf rref.Borrow[idl.IOBuf], n int32) (int32, error) {
	s.fp.Point(s.ctx)
	if n < 0 || n > idl.IOSize {
		return 0, fmt.Errorf("sendto: %d bytes: want 0..%d: %w", n, idl.IOSize, errno.EINVAL)
	}
	if port == 0 {
		return 0, fmt.Errorf("sendto %d.%d.%d.%d port 0: want a port: %w", addr[0], addr[1], addr[2], addr[3], errno.EINVAL)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, _, err := s.lookup("sendto", h, udp)
	if err != nil {
		return 0, err
	}
	if err := k.u.SendTo(buf.Get()[:n], addr, port); err != nil {
		return 0, errnoOf(fmt.Sprintf("sendto %d.%d.%d.%d:%d (%d bytes)", addr[0], addr[1], addr[2], addr[3], port, n), err)
	}
	s.kickPoll()
	return n, nil
}

// RecvFrom implements idl.Inet.
func (s *Service) RecvFrom(h int64, buf rref.RRef[idl.IOBuf], n int32) (rref.RRef[idl.IOBuf], idl.Datagram, error) {
	s.fp.Point(s.ctx)
	if n < 0 || n > idl.IOSize {
		return buf, idl.Datagram{}, fmt.Errorf("recvfrom: %d bytes: want 0..%d: %w", n, idl.IOSize, errno.EINVAL)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, _, err := s.lookup("recvfrom", h, udp)
	if err != nil {
		return buf, idl.Datagram{}, err
	}
	full, addr, port, err := k.u.RecvFrom(buf.Get()[:n])
	if err != nil {
		return buf, idl.Datagram{}, errnoOf("recvfrom", err)
	}
	return buf, idl.Datagram{N: int32(min(full, int(n))), Len: int32(full), Addr: addr, Port: port}, nil
}

// Local implements idl.Inet.
func (s *Service) Local(h int64) ([4]byte, uint16, error) {
	s.fp.Point(s.ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	k, _, err := s.lookup("local", h, free)
	if err != nil {
		return [4]byte{}, 0, err
	}
	var port uint16
	switch k.kind {
	case listener:
		port = k.l.Port()
	case udp:
		port = k.u.LocalPort()
	default:
		port = k.c.LocalPort()
	}
	return s.st.Config().Addr, port, nil
}
