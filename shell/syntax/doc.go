//rl:domain

// Package syntax is the language of Rv6's shells: a lexer and parser from
// source text to a small AST (List, Stmt, AndOr, Pipeline, Cmd, Word), its
// canonical printing (String, which parses back to the same program), and
// the expansion of words that needs nothing from an operating system
// (ExpandFields, ExpandString, given a lookup of parameters).
//
// It is shared by the kernel's console shell (system/sh) and the Rv6 shell
// program (rv6/progs/sh) through their one interpreter, package shell, and
// is a domain: pure computation over strings.
//
// The language, a subset of POSIX sh:
//
//   - words with '...', "..." and backslash quoting;
//   - parameters $name, ${name}, $?, $$, $!, $#, $0-$9, ${10}, $@, $*
//     (values of unquoted parameters are split at blanks; no globbing);
//   - NAME=value assignments, alone or before a command;
//   - comments from an unquoted # at the start of a word;
//   - lists with ; and newlines, & (background), && and ||;
//   - pipelines with |;
//   - redirections [n]<file, [n]>file, [n]>>file, [n]>&m, [n]<&m, and
//     n>&- / n<&- to close.
//
// Not supported, with a clear message: subshells ( ... ), command
// substitution $( ... ) and `...`, here-documents, ${name-word} forms.
//
// Errors are *SyntaxError: "syntax error: unexpected '|' at 1:5", with
// Incomplete set when more input could complete the program (an
// interactive shell then reads a continuation line).
package syntax
