package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/command/transport"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/rlgo/redleaf/lab/power"
)

// sol is an IPMI Serial-over-LAN console: an RMCP+ session with the
// machine's BMC (its ipmi power entry) and the SOL payload activated,
// encrypted like the session.
type sol struct {
	c      *client.Client
	cancel context.CancelFunc
	inR    *io.PipeReader
	inW    *io.PipeWriter
	outR   *io.PipeReader
	outW   *io.PipeWriter
	done   chan struct{}
	err    error
	once   sync.Once
}

func openSOL(ctx context.Context, pw power.Spec) (*sol, error) {
	if pw.Type != "ipmi" {
		return nil, fmt.Errorf("SOL needs the machine's IPMI BMC: its power entry is %q, not ipmi", pw.Type)
	}
	pass, err := pw.Password()
	if err != nil {
		return nil, err
	}
	host, port, err := power.IPMIHostPort(pw.Address)
	if err != nil {
		return nil, err
	}
	c, err := client.NewClient(host, port, pw.User, pass)
	if err != nil {
		return nil, err
	}
	c.WithTimeout(2 * time.Second).WithRetry(2)
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := c.Connect(cctx); err != nil {
		return nil, fmt.Errorf("IPMI session with %s: %w", pw.Address, err)
	}
	_, err = c.ActivatePayload(cctx, &transport.ActivatePayloadRequest{
		PayloadType: types.PayloadTypeSOL, PayloadInstance: 1,
		EnableEncryption: true, EnableAuthentication: true,
	})
	if err != nil {
		c.Close(context.Background())
		return nil, fmt.Errorf("activating SOL on %s: %w", pw.Address, err)
	}
	s := &sol{c: c, done: make(chan struct{})}
	s.inR, s.inW = io.Pipe()
	s.outR, s.outW = io.Pipe()
	sctx, scancel := context.WithCancel(context.Background())
	s.cancel = scancel
	go func() {
		err := c.SOLStream(sctx, s.inR, s.outW, &client.SOLStreamOptions{PollInterval: 50 * time.Millisecond})
		if err == nil || errors.Is(err, context.Canceled) {
			err = io.EOF
		}
		s.err = err
		s.outW.CloseWithError(err)
		close(s.done)
	}()
	return s, nil
}

func (s *sol) Read(p []byte) (int, error)  { return s.outR.Read(p) }
func (s *sol) Write(p []byte) (int, error) { return s.inW.Write(p) }

// Close deactivates the payload and ends the session.
func (s *sol) Close() error {
	s.once.Do(func() {
		s.cancel()
		s.inW.Close()
		<-s.done
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.c.DeactivatePayload(ctx, &transport.DeactivatePayloadRequest{PayloadType: types.PayloadTypeSOL, PayloadInstance: 1})
		s.c.Close(ctx)
		s.outR.Close()
	})
	return nil
}
