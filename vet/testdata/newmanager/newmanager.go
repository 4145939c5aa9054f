//rl:domain

// Package newmanager is a domain that makes a domain manager of its own,
// which the checker must reject (see TestNewManagerBanned).
package newmanager

import "github.com/rlgo/redleaf/kernel/domain"

// Own runs domains outside the kernel's accounting.
func Own() *domain.Manager { return domain.NewManager() }
