package power

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// pdu asks pdudaemon (LAVA's PDU daemon) to switch an outlet through its
// HTTP API: GET /power/control/{on,off,reboot}?hostname=PDU&port=OUTLET.
// pdudaemon answers 200 once its driver has run the request, 500 for an
// unknown PDU or a bad request. Its API has no way to read an outlet's
// state, and many PDUs behind it cannot report one either: State is
// Unknown, and Set is confirmed only in the sense that pdudaemon accepted
// and ran the request (Confirms reports false): the lab takes the
// machine's first DHCP request or boot event as the proof of power.
type pdu struct {
	s    Spec
	base *url.URL
	c    *http.Client
}

func openPDU(s Spec) (driver, error) {
	u, err := url.Parse(s.Address)
	if err != nil {
		return nil, err
	}
	return &pdu{s: s, base: u, c: &http.Client{Timeout: s.Timeout}}, nil
}

func (p *pdu) request(ctx context.Context, what string, delay time.Duration) error {
	u := *p.base
	u.Path = strings.TrimSuffix(u.Path, "/") + "/power/control/" + what
	q := url.Values{"hostname": {p.s.PDU}, "port": {p.s.Port}}
	if delay > 0 {
		q.Set("delay", fmt.Sprint(int(delay.Seconds())))
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	resp, err := p.c.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: pdudaemon answered %s to %s: %s (is PDU %q with outlet %s in its configuration?)",
			ErrRejected, resp.Status, u.Path, quoteTail(strings.TrimSpace(string(body))), p.s.PDU, p.s.Port)
	}
	return nil
}

func (p *pdu) on(ctx context.Context) error  { return p.request(ctx, "on", 0) }
func (p *pdu) off(ctx context.Context) error { return p.request(ctx, "off", 0) }

// cycle is pdudaemon's reboot: off, a delay (1 s here rather than its
// default 5), on.
func (p *pdu) cycle(ctx context.Context) error {
	return p.request(ctx, "reboot", time.Second)
}

func (p *pdu) state(context.Context) (State, error) { return Unknown, nil }
func (p *pdu) readable() bool                       { return false }
func (p *pdu) close() error                         { p.c.CloseIdleConnections(); return nil }

func (p *pdu) bootPXE(context.Context) error {
	return fmt.Errorf("a PDU switches power only: %w (configure the machine to boot from the network first)", errors.ErrUnsupported)
}
