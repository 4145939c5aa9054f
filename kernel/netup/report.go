package netup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// Reporter tells the netboot server about this boot, through the API
// named on the kernel command line (package netboot/httpboot):
// rl.report=URL (the API's base), rl.token= (this boot's secret),
// rl.boot= (its id) and rl.mac= (the NIC that booted).
type Reporter struct {
	// URL is the API's base, e.g. "http://10.0.0.1:8080/api".
	URL string
	// Token authenticates the reports (Authorization: Bearer).
	Token string
	// Client is the HTTP client (default: no proxy, 10 s per request).
	Client *http.Client
	// Logf reports failed attempts (nil: nothing).
	Logf func(format string, args ...any)
}

// Booted is the body of the "booted" report.
type Booted struct {
	Status string `json:"status"` // "booted"
	// Boot is this boot's id from the command line (rl.boot).
	Boot string `json:"boot,omitempty"`
	// Kernel is Linux's release, Image the domain kernel's version.
	Kernel string `json:"kernel"`
	Image  string `json:"image"`
	// BootID is Linux's random boot id
	// (/proc/sys/kernel/random/boot_id).
	BootID    string  `json:"boot_id,omitempty"`
	MAC       string  `json:"mac,omitempty"`
	Interface string  `json:"interface,omitempty"`
	IP        string  `json:"ip,omitempty"`
	Uptime    float64 `json:"uptime_s,omitempty"`
}

// ErrUnauthorized is returned when the server refuses the token: trying
// again cannot help.
var ErrUnauthorized = errors.New("the netboot server refused the boot token")

func (r *Reporter) logf(format string, args ...any) {
	if r.Logf != nil {
		r.Logf(format, args...)
	}
}

func (r *Reporter) client() *http.Client {
	if r.Client != nil {
		return r.Client
	}
	// No proxy from the environment: the server is on the boot network.
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		TLSHandshakeTimeout: 5 * time.Second,
	}}
}

// Post sends body as JSON to URL/path, trying again with backoff (1 s,
// doubling, at most 8 s) until the server accepts it, refuses the token
// (ErrUnauthorized) or ctx ends.
func (r *Reporter) Post(ctx context.Context, path string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	url := strings.TrimRight(r.URL, "/") + "/" + strings.TrimLeft(path, "/")
	c := r.client()
	wait := time.Second
	for attempt := 1; ; attempt++ {
		err := r.postOnce(ctx, c, url, b)
		if err == nil || errors.Is(err, ErrUnauthorized) {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("POST %s: gave up after %d attempts: %w", url, attempt, err)
		}
		r.logf("POST %s, attempt %d: %v; again in %v", url, attempt, err, wait)
		select {
		case <-ctx.Done():
			return fmt.Errorf("POST %s: gave up after %d attempts: %w", url, attempt, err)
		case <-time.After(wait):
		}
		wait = min(2*wait, 8*time.Second)
	}
}

func (r *Reporter) postOnce(ctx context.Context, c *http.Client, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+r.Token)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("%w: %s: %s", ErrUnauthorized, resp.Status, bytes.TrimSpace(msg))
	}
	return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(msg))
}

// ReportBooted brings the network up (Up) and posts b to URL/booted,
// adding what it learnt (interface, address, Linux's boot id, uptime).
// Bound its time with ctx: it tries again until ctx ends.
func ReportBooted(ctx context.Context, c Config, r *Reporter, b Booted) (*Link, error) {
	link, err := Up(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	b.Status = "booted"
	b.Interface, b.MAC, b.IP = link.Name, link.MAC.String(), link.Addr.String()
	if b.BootID == "" {
		b.BootID = linuxBootID()
	}
	if b.Uptime == 0 {
		b.Uptime = uptime()
	}
	if err := r.Post(ctx, "booted", b); err != nil {
		return link, err
	}
	return link, nil
}
