// Package testdomains holds small sample domains for the tests and
// benchmarks of the domain kernel, one package per domain kind as every
// domain is: nullbench (idl.Bench), stage (idl.Stage, with fault
// injection), ramdisk (idl.BlockDevice), hoard (holds RRefs and a thread,
// for reclaim tests) and netserve (httpd or kvstore over a network
// stack's sockets, for the stack's fault tests). Importing one registers its kind. They are written as
// real domains are, and pass rlbuild vet.
package testdomains
