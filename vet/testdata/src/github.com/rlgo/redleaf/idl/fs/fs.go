// Package fs stands in for an IDL package.
package fs
