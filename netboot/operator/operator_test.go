package operator

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "token")
	os.WriteFile(path, []byte("0123456789abcdef0123\n"), 0o644)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "chmod 600 "+path) || !strings.Contains(err.Error(), "mode 0644") {
		t.Errorf("world-readable file: %v", err)
	}
	os.Chmod(path, 0o640)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "group or others") {
		t.Errorf("group-readable file: %v", err)
	}
	os.Chmod(path, 0o600)
	tok, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := http.NewRequest("PUT", "/", nil)
	if tok.Check(r) {
		t.Error("no header accepted")
	}
	for _, h := range []string{"Bearer 0123456789abcdef012", "Bearer 0123456789abcdef01234", "Basic 0123456789abcdef0123", "0123456789abcdef0123"} {
		r.Header.Set("Authorization", h)
		if tok.Check(r) {
			t.Errorf("%q accepted", h)
		}
	}
	r.Header.Set("Authorization", "Bearer 0123456789abcdef0123")
	if !tok.Check(r) {
		t.Error("the token refused")
	}
	os.WriteFile(path, []byte("short"), 0o600)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "at least 16") {
		t.Errorf("short token: %v", err)
	}
	if (Token{}).Matches("") {
		t.Error("zero token matches")
	}
}

func TestEnsure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "operator-token")
	tok, created, err := Ensure(path)
	if err != nil || !created || !tok.Valid() {
		t.Fatalf("%v %v", created, err)
	}
	st, _ := os.Stat(path)
	b, _ := os.ReadFile(path)
	if st.Mode().Perm() != 0o600 || !tok.Matches(strings.TrimSpace(string(b))) {
		t.Errorf("mode %v", st.Mode())
	}
	if _, created, err := Ensure(path); err != nil || created {
		t.Errorf("second Ensure: %v %v", created, err)
	}
}
