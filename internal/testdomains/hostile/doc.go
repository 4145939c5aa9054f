// Package hostile holds hostile domain packages: what an outside review
// wrote to break the domain kernel's isolation at package initialization,
// kept so that the kernel's tests show each attempt contained. They are
// not marked //rl:domain (rlbuild vet rejects them, as it should: they call
// kernel-only API) and nothing links them into an image.
//
//   - hijack tries, at init, to put its own proxy and shadow in front of
//     idl.Bench (the review's hole 1), and to make a Manager of its own.
//   - squat registers the kind name of another package, "ramdisk" (hole
//     11), to be created in its place.
//
// The hostile tests that need no package initialization of their own are
// in kernel/domain (hostile_test.go), kernel/shadow and kernel/rref.
package hostile
