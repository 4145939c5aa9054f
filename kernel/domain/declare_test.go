package domain_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
)

// declarePanic is Declare's panic, at init, about a kind nobody registered.
var declarePanic any

func init() {
	domain.Register("declarer", func(*domain.Context) (idl.Bench, error) { return nil, nil })
	domain.Declare("declarer", "needs inet:")
	domain.Declare("declarer", "needs inet:") // again: recorded once
	domain.Declare("declarer", "other")
	func() {
		defer func() { declarePanic = recover() }()
		domain.Declare("nobody-registered-this", "needs inet:")
	}()
}

func TestDeclare(t *testing.T) {
	if got := domain.Declared("declarer"); !slices.Equal(got, []string{"needs inet:", "other"}) {
		t.Errorf("Declared(declarer) = %q", got)
	}
	if got := domain.Declared("nobody-registered-this"); got != nil {
		t.Errorf("Declared of an unregistered kind = %q", got)
	}
	if s, _ := declarePanic.(string); !strings.Contains(s, "only the package that registered the kind") {
		t.Errorf("Declare about a kind nobody registered: panic %v", declarePanic)
	}
	defer func() {
		if s, _ := recover().(string); !strings.Contains(s, "outside package initialization") && !strings.Contains(s, "after the first domain started") {
			t.Errorf("Declare after init: panic %q", s)
		}
	}()
	domain.Declare("declarer", "late")
}
