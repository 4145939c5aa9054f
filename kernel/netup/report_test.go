package netup

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestPostRetries: the server fails twice, then takes the report with
// the token; the body arrives as JSON.
func TestPostRetries(t *testing.T) {
	var calls atomic.Int32
	var got Booted
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
			return
		}
		if r.URL.Path != "/api/booted" || r.Header.Get("Authorization") != "Bearer s3cret" || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s %q", r.Method, r.URL.Path, r.Header)
		}
		json.NewDecoder(r.Body).Decode(&got)
		w.Write([]byte(`{"recorded":"booted"}`))
	}))
	defer srv.Close()
	var logged int
	r := &Reporter{URL: srv.URL + "/api/", Token: "s3cret", Logf: func(string, ...any) { logged++ }}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.Post(ctx, "booted", Booted{Status: "booted", Boot: "b00t", Kernel: "Linux 7", Image: "v1"}); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 3 || logged != 2 || got.Boot != "b00t" || got.Status != "booted" {
		t.Errorf("calls %d, logged %d, body %+v", calls.Load(), logged, got)
	}
}

// TestPostUnauthorized: a refused token is final.
func TestPostUnauthorized(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, "bad token", http.StatusUnauthorized)
	}))
	defer srv.Close()
	r := &Reporter{URL: srv.URL, Token: "wrong"}
	err := r.Post(context.Background(), "booted", Booted{})
	if !errors.Is(err, ErrUnauthorized) || calls.Load() != 1 {
		t.Errorf("err %v after %d calls", err, calls.Load())
	}
}

// TestPostGivesUp: the time bound holds when nobody answers.
func TestPostGivesUp(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusBadGateway)
	}))
	defer srv.Close()
	r := &Reporter{URL: srv.URL, Token: "t"}
	ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := r.Post(ctx, "booted", Booted{})
	if err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("err %v after %v", err, time.Since(start))
	}
}
