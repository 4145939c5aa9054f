package squat_test

import (
	"strings"
	"testing"

	"github.com/rlgo/redleaf/internal/testdomains/hostile/squat"
	"github.com/rlgo/redleaf/internal/testdomains/ramdisk"
	"github.com/rlgo/redleaf/kernel/domain"
)

// TestSquattedKindIsNobodys: the review's hole 11. A package registering
// another's kind name made the real one panic at boot (or, sorted first,
// got created in its place). Now both registrations pass at init (this
// test binary got to run), and the name is nobody's: Create refuses it,
// naming both packages, and creates neither.
func TestSquattedKindIsNobodys(t *testing.T) {
	if squat.Kind != ramdisk.Kind {
		t.Fatalf("the squatter takes %q, the driver registers %q", squat.Kind, ramdisk.Kind)
	}
	m := domain.NewManager()
	defer m.Close()
	d, err := m.Create(ramdisk.Kind)
	if err == nil || d != nil {
		t.Fatalf("Create(%q) of a name two packages registered: %v, %v", ramdisk.Kind, d, err)
	}
	for _, pkg := range []string{"internal/testdomains/hostile/squat", "internal/testdomains/ramdisk"} {
		if !strings.Contains(err.Error(), pkg) {
			t.Errorf("the error does not name %s: %v", pkg, err)
		}
	}
	if domain.Registered(ramdisk.Kind) {
		t.Error("Registered reports the contested name as usable")
	}
	if squat.Created != 0 {
		t.Errorf("the squatter was created %d times", squat.Created)
	}
}

// TestRegisterAtRunTimeRefused: the registry is sealed once a domain
// started, and registering outside package initialization is refused
// anyway.
func TestRegisterAtRunTimeRefused(t *testing.T) {
	defer func() {
		if v := recover(); v == nil || !strings.Contains(v.(string), "domain.Register") {
			t.Errorf("Register at run time: %v", v)
		}
	}()
	domain.Register("late", func(*domain.Context) (domain.Capability, error) { return nil, nil })
	t.Error("Register at run time returned")
}
