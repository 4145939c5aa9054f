package testfiles

import (
	"os"
	"testing"
)

var calls int

func TestDouble(t *testing.T) {
	calls++
	go func() {}()
	if Double(2) != 4 || os.Getenv("X") == "y" {
		t.Fatal("wrong")
	}
}
