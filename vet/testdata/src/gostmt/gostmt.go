// Package gostmt starts goroutines.
package gostmt

func Run(work func()) {
	go work()   // want `^go: domains may not start goroutines with a go statement: threads come from the kernel's spawn call`
	go func() { // want `^go: `
		work()
	}()
	func() { work() }() // a function literal called in place is fine
	defer work()        // and so is defer
}
