package runner

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMarkers(t *testing.T) {
	out := "boot noise\nRL-SUITE-START nvme: 2 steps\nRL-SUITE write-read status=pass exit=0 seconds=0.1\r\nRL-SUITE bench status=fail exit=2 seconds=1.5\nRL-SUITE-END nvme status=fail\n"
	steps := markers(strings.ReplaceAll(out, "\r", ""), "nvme")
	if len(steps) != 2 || steps[0].Name != "write-read" || steps[0].Status != "pass" || steps[1].Exit != 2 || steps[1].Seconds != 1.5 {
		t.Fatalf("%+v", steps)
	}
	// Unfinished: what ran, then a failure for the rest.
	steps = markers("RL-SUITE a status=pass exit=0 seconds=0.1\n", "s")
	if len(steps) != 2 || steps[1].Status != "fail" {
		t.Fatalf("unfinished suite: %+v", steps)
	}
	if steps := markers("no markers here", "s"); len(steps) != 0 {
		t.Fatalf("%+v", steps)
	}
}

func TestConsoleLogCap(t *testing.T) {
	var b strings.Builder
	c := &counter{w: &b}
	chunk := strings.Repeat("x", 1<<20)
	for i := 0; i < 70; i++ {
		c.Write([]byte(chunk))
	}
	if b.Len() > MaxConsoleLog+100 || !strings.HasSuffix(b.String(), "cut at 64 MiB]\n") || c.n.Load() != 70<<20 {
		t.Fatalf("kept %d bytes of %d", b.Len(), c.n.Load())
	}
}

// TestClientCredential: the one netboot API client sends the operator's
// token from its file on every request.
func TestClientCredential(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		w.Write([]byte(`{"mac":"52:54:00:00:00:01","boots":[]}`))
	}))
	defer srv.Close()
	tok := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tok, []byte("s3cret\n"), 0o600)
	c := &Client{BaseURL: srv.URL, TokenFile: tok}
	ctx := context.Background()
	if _, err := c.Machine(ctx, "52:54:00:00:00:01"); err != nil {
		t.Fatal(err)
	}
	if err := c.SetNext(ctx, "52:54:00:00:00:01", "cell1"); err != nil {
		t.Fatal(err)
	}
	want := []string{"GET /api/machines/52-54-00-00-00-01 Bearer s3cret", "PUT /api/machines/52-54-00-00-00-01/next-boot Bearer s3cret"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("requests %q, want %q", got, want)
	}
}
