// Package aliases rewrites the standard library's package variables, which
// the kernel and every domain share (review item 5), directly and through
// aliases.
package aliases

import (
	"encoding/base64"
	"fmt"
	"hash/crc32"
	"io"
	"time"
	"unicode"
)

func Rewrite() {
	t := unicode.Upper                        // want `^global: lets a reference into package-level var unicode.Upper \(\*unicode.RangeTable\) escape, copied`
	*t = *unicode.Lower                       // want `^global: lets a reference into package-level var unicode.Lower \(unicode.RangeTable\) escape, copied`
	*unicode.Upper = unicode.RangeTable{}     // want `^global: assigns to package-level var unicode.Upper`
	unicode.Upper.R16[0].Lo = 'a'             // want `^global: assigns to package-level var unicode.Upper`
	*base64.StdEncoding = *base64.URLEncoding // want `^global: assigns to package-level var base64.StdEncoding`
	e := base64.StdEncoding                   // a pointer to an immutable type may be copied,
	*e = *base64.RawURLEncoding               // want `^global: writes through a pointer to encoding/base64.Encoding`
	*time.UTC = time.Location{}               // want `^global: assigns to package-level var time.UTC`
	l := time.UTC                             // copied,
	*l = *time.FixedZone("x", 3600)           // want `^global: writes through a pointer to time.Location`
	unicode.Categories["Xx"] = unicode.Upper  // want `^global: assigns to package-level var unicode.Categories` `^global: lets a reference into package-level var unicode.Upper`
	cats := unicode.Categories                // want `^global: lets a reference into package-level var unicode.Categories`
	delete(cats, "Lu")
	fill(unicode.Lower)    // want `^global: lets a reference into package-level var unicode.Lower .* passed to aliases.fill`
	tab := crc32.IEEETable // want `^global: lets a reference into package-level var crc32.IEEETable`
	tab[0] = 1

	// Reading is fine: tables passed to read-only functions, immutable
	// values used through their methods, stateless values.
	_ = unicode.Is(unicode.Upper, 'A') && unicode.In('a', unicode.Lower, unicode.Digit)
	_ = crc32.Checksum([]byte("x"), crc32.IEEETable)
	_ = base64.StdEncoding.EncodeToString([]byte("x"))
	_ = time.Now().In(time.UTC)
	fmt.Fprint(io.Discard, "x")
}

func fill(t *unicode.RangeTable) { t.LatinOffset = 0 }
