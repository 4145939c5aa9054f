package testfiles_test

import (
	"fmt"
	"unsafe"

	"testfiles"
)

func Example() {
	fmt.Println(testfiles.Double(int(unsafe.Sizeof(0))))
	// Output: 16
}
