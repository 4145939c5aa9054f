package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/rlgo/redleaf/netboot/httpboot"
)

// Client is the one HTTP client of the netboot server's API that the lab
// uses (reads of a machine's boots and results; setting a next boot when
// the server runs elsewhere). Every request carries the operator's
// credential, when there is one, as "Authorization: Bearer TOKEN".
type Client struct {
	// BaseURL is the server's base, e.g. http://10.77.1.1:8080.
	BaseURL string
	// TokenFile holds the operator credential ("" sends none).
	TokenFile string
	// Dial, if set, opens connections (inside the boot network's
	// namespace).
	Dial func(network, addr string) (net.Conn, error)

	hc *http.Client
}

func (c *Client) http() *http.Client {
	if c.hc == nil {
		tr := &http.Transport{Proxy: nil, MaxIdleConns: 4, IdleConnTimeout: 30 * time.Second}
		if c.Dial != nil {
			tr.DialContext = func(_ context.Context, network, addr string) (net.Conn, error) { return c.Dial(network, addr) }
		}
		c.hc = &http.Client{Timeout: 15 * time.Second, Transport: tr}
	}
	return c.hc
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, rd)
	if err != nil {
		return err
	}
	if c.TokenFile != "" {
		tok, err := os.ReadFile(c.TokenFile)
		if err != nil {
			return fmt.Errorf("netboot API credential: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("netboot API %s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// MachineInfo is the part of GET /api/machines/MAC the lab reads.
type MachineInfo struct {
	MAC   string           `json:"mac"`
	Boots []*httpboot.Boot `json:"boots"`
}

// Machine reads a machine's boots (their results' sizes, not bodies).
func (c *Client) Machine(ctx context.Context, mac string) (MachineInfo, error) {
	var mi MachineInfo
	err := c.do(ctx, http.MethodGet, "/api/machines/"+strings.ReplaceAll(mac, ":", "-"), nil, &mi)
	return mi, err
}

// Results reads a boot's results with their bodies (an operator call).
func (c *Client) Results(ctx context.Context, bootID string) ([]httpboot.Result, error) {
	var rs []httpboot.Result
	err := c.do(ctx, http.MethodGet, "/api/boots/"+url.PathEscape(bootID)+"/results", nil, &rs)
	return rs, err
}

// SetNext sets a machine's next boot to a profile, once.
func (c *Client) SetNext(ctx context.Context, mac, profile string) error {
	return c.do(ctx, http.MethodPut, "/api/machines/"+strings.ReplaceAll(mac, ":", "-")+"/next-boot",
		map[string]any{"profile": profile, "once": true}, nil)
}
