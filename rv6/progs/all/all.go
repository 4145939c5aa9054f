// Package all registers every Rv6 program: the kernel binary (and tests
// that want them all) import it for its side effects.
package all

import (
	// Keep the list sorted; one line per program in rv6/progs.
	_ "github.com/rlgo/redleaf/rv6/progs/benchfs"
	_ "github.com/rlgo/redleaf/rv6/progs/benchnet"
	_ "github.com/rlgo/redleaf/rv6/progs/benchnvme"
	_ "github.com/rlgo/redleaf/rv6/progs/cat"
	_ "github.com/rlgo/redleaf/rv6/progs/cp"
	_ "github.com/rlgo/redleaf/rv6/progs/crash"
	_ "github.com/rlgo/redleaf/rv6/progs/df"
	_ "github.com/rlgo/redleaf/rv6/progs/echo"
	_ "github.com/rlgo/redleaf/rv6/progs/fwd"
	_ "github.com/rlgo/redleaf/rv6/progs/grep"
	_ "github.com/rlgo/redleaf/rv6/progs/head"
	_ "github.com/rlgo/redleaf/rv6/progs/httpd"
	_ "github.com/rlgo/redleaf/rv6/progs/ifconfig"
	_ "github.com/rlgo/redleaf/rv6/progs/init"
	_ "github.com/rlgo/redleaf/rv6/progs/kill"
	_ "github.com/rlgo/redleaf/rv6/progs/kvstore"
	_ "github.com/rlgo/redleaf/rv6/progs/ln"
	_ "github.com/rlgo/redleaf/rv6/progs/ls"
	_ "github.com/rlgo/redleaf/rv6/progs/lspci"
	_ "github.com/rlgo/redleaf/rv6/progs/maglev"
	_ "github.com/rlgo/redleaf/rv6/progs/mkdir"
	_ "github.com/rlgo/redleaf/rv6/progs/mv"
	_ "github.com/rlgo/redleaf/rv6/progs/nc"
	_ "github.com/rlgo/redleaf/rv6/progs/nictest"
	_ "github.com/rlgo/redleaf/rv6/progs/ping"
	_ "github.com/rlgo/redleaf/rv6/progs/pktgen"
	_ "github.com/rlgo/redleaf/rv6/progs/ps"
	_ "github.com/rlgo/redleaf/rv6/progs/rm"
	_ "github.com/rlgo/redleaf/rv6/progs/rmdir"
	_ "github.com/rlgo/redleaf/rv6/progs/sh"
	_ "github.com/rlgo/redleaf/rv6/progs/sleep"
	_ "github.com/rlgo/redleaf/rv6/progs/stat"
	_ "github.com/rlgo/redleaf/rv6/progs/sync"
	_ "github.com/rlgo/redleaf/rv6/progs/tail"
	_ "github.com/rlgo/redleaf/rv6/progs/tcpbench"
	_ "github.com/rlgo/redleaf/rv6/progs/touch"
	_ "github.com/rlgo/redleaf/rv6/progs/uptime"
	_ "github.com/rlgo/redleaf/rv6/progs/usertests"
	_ "github.com/rlgo/redleaf/rv6/progs/wc"
	_ "github.com/rlgo/redleaf/rv6/progs/wget"
)

// Programs are the names of the programs this package registers, sorted.
var Programs = []string{
	"benchfs", "benchnet", "benchnvme", "cat", "cp", "crash", "df", "echo", "fwd", "grep", "head",
	"httpd", "ifconfig", "init", "kill", "kvstore", "ln", "ls", "lspci", "maglev", "mkdir", "mv", "nc", "nictest", "ping", "pktgen", "ps", "rm",
	"rmdir", "sh", "sleep", "stat", "sync", "tail", "tcpbench", "touch", "uptime", "usertests", "wc", "wget",
}
