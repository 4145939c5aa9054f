//go:build !linux

package flash

import (
	"errors"
	"os"
)

var errLinuxOnly = errors.New("writing disks needs Linux")

func openExclusive(string) (*os.File, error)         { return nil, errLinuxOnly }
func openDirect(string) (*os.File, error)            { return nil, errLinuxOnly }
func isBusy(error) bool                              { return false }
func deviceIdentity(*os.File) (uint64, int64, error) { return 0, 0, errLinuxOnly }
func diskSeq(*os.File) (uint64, error)               { return 0, errLinuxOnly }
func loopBacking(*os.File) (uint64, uint64, error)   { return 0, 0, errLinuxOnly }
func alignedBuffer(int) ([]byte, func(), error)      { return nil, nil, errLinuxOnly }
func zeroByUnmap(*os.File, int64, int64) error       { return errLinuxOnly }
func zeroRange(*os.File, int64, int64) error         { return errLinuxOnly }
func discard(*os.File, int64, int64) error           { return errLinuxOnly }
func isUnsupported(err error) bool                   { return errors.Is(err, errLinuxOnly) }
func rereadPartitions(*os.File) error                { return errLinuxOnly }
func isTerminal(*os.File) bool                       { return false }
func willNeed(*os.File, int64, int64)                {}
