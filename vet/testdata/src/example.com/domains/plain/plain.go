// Package plain is not marked as a domain.
package plain
