// Package operator is the credential of the netboot server's operator:
// the calls that change what a machine boots (PUT and DELETE
// /api/machines/{mac}/next-boot) and the one that reads the results
// machines posted (GET /api/boots/{id}/results) need
//
//	Authorization: Bearer TOKEN
//
// where TOKEN is the content of a file only the operator can read. The
// boot network is not trusted: anyone on it can reach the HTTP server,
// so a secret is what tells the operator apart, not an address.
//
// The file is the operator's choice (server.operator_token_file, or
// --operator-token-file); by default it is operator-token in the state
// directory, created with a random token on the first start. A file that
// its group or others can read is refused: the server does not start
// until it is private (chmod 600).
package operator

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"strings"
)

// MinLength is the shortest token accepted.
const MinLength = 16

// Token is an operator token. The zero value matches nothing.
type Token struct {
	sum [32]byte
	set bool
}

// New returns the token for a secret (for a server run in-process,
// whose caller holds the secret itself).
func New(secret string) (Token, error) {
	if len(secret) < MinLength {
		return Token{}, fmt.Errorf("operator token is %d characters long: use at least %d random characters", len(secret), MinLength)
	}
	for _, r := range secret {
		if r <= ' ' || r == 0x7f {
			return Token{}, errors.New("operator token contains a space or control character: use letters and digits, e.g. the output of `head -c 32 /dev/urandom | base64`")
		}
	}
	return Token{sum: sha256.Sum256([]byte(secret)), set: true}, nil
}

// Load reads the token from path. The file must be a regular file that
// only its owner may read or write (mode 0600 or 0400).
func Load(path string) (Token, error) {
	st, err := os.Stat(path)
	if err != nil {
		return Token{}, fmt.Errorf("operator token file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return Token{}, fmt.Errorf("operator token file %s is not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return Token{}, fmt.Errorf("operator token file %s can be read or written by its group or others (mode %04o): make it private with `chmod 600 %s` (and give it a new token if others may have read it)", path, perm, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Token{}, fmt.Errorf("operator token file: %w", err)
	}
	t, err := New(strings.TrimSpace(string(b)))
	if err != nil {
		return Token{}, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Ensure loads the token at path, creating the file (mode 0600, a random
// 256-bit token in hex) if there is none. created says it was made.
func Ensure(path string) (t Token, created bool, err error) {
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return Token{}, false, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return Token{}, false, fmt.Errorf("operator token file: %w", err)
		}
		_, err = f.WriteString(hex.EncodeToString(b) + "\n")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(path)
			return Token{}, false, fmt.Errorf("operator token file: %w", err)
		}
		created = true
	}
	t, err = Load(path)
	return t, created, err
}

// Valid reports whether the token is set.
func (t Token) Valid() bool { return t.set }

// Matches reports, in constant time, whether secret is the token.
func (t Token) Matches(secret string) bool {
	sum := sha256.Sum256([]byte(secret))
	return t.set && subtle.ConstantTimeCompare(sum[:], t.sum[:]) == 1
}

// Check reports whether r carries the token as "Authorization: Bearer
// TOKEN".
func (t Token) Check(r *http.Request) bool {
	auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && t.Matches(strings.TrimSpace(auth))
}
