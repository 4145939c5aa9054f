package sh

import "github.com/rlgo/redleaf/rv6/sh/syntax"

// The shell language lives in rv6/sh/syntax, shared with the Rv6 shell
// program; these names keep it reachable from here as before.
type (
	Pos         = syntax.Pos
	PartKind    = syntax.PartKind
	Part        = syntax.Part
	Word        = syntax.Word
	Assign      = syntax.Assign
	RedirOp     = syntax.RedirOp
	Redir       = syntax.Redir
	Cmd         = syntax.Cmd
	Pipeline    = syntax.Pipeline
	AndOrOp     = syntax.AndOrOp
	AndOr       = syntax.AndOr
	AndOrPart   = syntax.AndOrPart
	Stmt        = syntax.Stmt
	List        = syntax.List
	SyntaxError = syntax.SyntaxError
)

// Word parts, redirections and and-or operators (see rv6/sh/syntax).
const (
	Lit         = syntax.Lit
	Param       = syntax.Param
	RedirIn     = syntax.RedirIn
	RedirOut    = syntax.RedirOut
	RedirAppend = syntax.RedirAppend
	RedirDupIn  = syntax.RedirDupIn
	RedirDupOut = syntax.RedirDupOut
	AndThen     = syntax.AndThen
	OrElse      = syntax.OrElse
)

// Parse parses src into a List (syntax.Parse).
func Parse(src string) (*List, error) { return syntax.Parse(src) }

// IsName reports whether s is a valid variable name (syntax.IsName).
func IsName(s string) bool { return syntax.IsName(s) }
