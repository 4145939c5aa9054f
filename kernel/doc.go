// Package kernel is the trusted base of RedLeaf-Go, and only its
// subpackages are: the domain manager (kernel/domain), the shared heap
// (kernel/rref), recovery (kernel/shadow), the device substrate (kernel/pci,
// kernel/dma, kernel/hw), what PID 1 owes Linux (kernel/boot and the
// packages it uses), and the kernel services granted to Rv6 (kernel/loader,
// kernel/console). It is the only code of the target that may use unsafe,
// system calls or device access.
//
// The kernel imports nothing above it: no driver, Rv6, service, application
// or the composition root (package system, which decides which domains start
// with which grants, as main does for a program). Its only imports from the
// module outside kernel/ are the IDL interfaces (idl) and the version
// string. layering_test.go keeps it so.
package kernel
