// Package banned uses functions that give ambient authority or start goroutines.
package banned

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"
)

func Use(ctx context.Context, w io.Writer, wg *sync.WaitGroup) error {
	fmt.Println("hi")     // want `^banned: domains may not use fmt.Println: it writes to os.Stdout, ambient authority`
	fmt.Printf("%d\n", 1) // want `^banned: domains may not use fmt.Printf: `
	print := fmt.Print    // want `^banned: domains may not use fmt.Print: `
	print("x")
	var n int
	fmt.Scan(&n)                                                 // want `^banned: domains may not use fmt.Scan: it reads os.Stdin`
	println("low-level")                                         // want `^banned: domains may not use println: it writes to the standard error`
	time.AfterFunc(time.Second, func() {})                       // want `^banned: domains may not use time.AfterFunc: it runs f on a goroutine of its own`
	context.AfterFunc(ctx, func() {})                            // want `^banned: domains may not use context.AfterFunc: `
	wg.Go(func() {})                                             // want `^banned: domains may not use \(\*sync.WaitGroup\).Go: it starts a goroutine`
	if _, err := time.LoadLocation("Europe/Paris"); err != nil { // want `^banned: domains may not use time.LoadLocation: it reads the host's zoneinfo`
		return err
	}

	// Allowed: writers the domain was given, formatting, the clock.
	fmt.Fprintf(w, "%d\n", n)
	_ = fmt.Sprintf("%v", time.Now())
	time.Sleep(time.Millisecond)
	t := time.NewTimer(time.Second)
	t.Stop()
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return fmt.Errorf("done: %w", ctx.Err())
}
