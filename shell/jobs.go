package shell

import (
	"io"
	"strconv"
	"strings"

	"github.com/rlgo/redleaf/idl"
)

// A job is a pipeline running in the background: its programs' pids, in
// pipeline order, and how each one that ended ended.
type job struct {
	id    int
	pids  []int
	cmd   string
	ended map[int]idl.WaitStatus
}

func (j *job) done() bool { return len(j.ended) == len(j.pids) }

// status is the job's status: its last program's, once the job is done.
func (j *job) status() idl.WaitStatus { return j.ended[j.pids[len(j.pids)-1]] }

// state is how jobs and the notices describe the job: Running, Done, Exit
// N, Killed, Crashed.
func (j *job) state() string {
	if !j.done() {
		return "Running"
	}
	ws := j.status()
	switch {
	case ws.Exited && ws.Status == 0:
		return "Done"
	case ws.Exited:
		return "Exit " + strconv.Itoa(int(ws.Status))
	case ws.Killed:
		return "Killed"
	}
	return "Crashed"
}

// line is the job as jobs lists it: "[N] STATE  CMD".
func (j *job) line() string {
	return "[" + strconv.Itoa(j.id) + "] " + j.state() + "  " + j.cmd
}

// jobTable is the shell's jobs, oldest first. Job numbers start at 1 and
// are reused once the table is empty.
type jobTable struct {
	jobs []*job
}

func (t *jobTable) add(pids []int, cmd string) *job {
	id := 1
	if n := len(t.jobs); n > 0 {
		id = t.jobs[n-1].id + 1
	}
	j := &job{id: id, pids: pids, cmd: cmd, ended: map[int]idl.WaitStatus{}}
	t.jobs = append(t.jobs, j)
	return j
}

func (t *jobTable) remove(j *job) {
	for i, x := range t.jobs {
		if x == j {
			t.jobs = append(t.jobs[:i], t.jobs[i+1:]...)
			return
		}
	}
}

// find finds a job by its number ("%N", "N" with percent) or by one of its
// pids.
func (t *jobTable) find(spec string) (*job, bool) {
	if n, ok := strings.CutPrefix(spec, "%"); ok {
		id, err := strconv.Atoi(n)
		for _, j := range t.jobs {
			if err == nil && j.id == id {
				return j, true
			}
		}
		return nil, false
	}
	pid, err := strconv.Atoi(spec)
	for _, j := range t.jobs {
		for _, p := range j.pids {
			if err == nil && p == pid {
				return j, true
			}
		}
	}
	return nil, false
}

// reap reaps the programs of the jobs that have ended, without waiting:
// there is no non-blocking wait, so it asks the host which children still
// run and waits for the others only.
func (t *jobTable) reap(s *Shell) {
	if len(t.jobs) == 0 {
		return
	}
	running, err := s.h.Running()
	if err != nil {
		return
	}
	for _, j := range t.jobs {
		for _, pid := range j.pids {
			if _, ok := j.ended[pid]; ok {
				continue
			}
			if running[pid] {
				continue
			}
			ws, err := s.h.Wait(pid)
			if err != nil {
				ws = idl.WaitStatus{Pid: int32(pid), Exited: true} // gone: nothing to report
			}
			j.ended[pid] = ws
		}
	}
}

// notify reaps the jobs that ended and reports them ("[N] Done  CMD"),
// before a prompt.
func (t *jobTable) notify(s *Shell) {
	t.reap(s)
	for _, j := range append([]*job(nil), t.jobs...) {
		if j.done() {
			io.WriteString(s.h.File(2), j.line()+"\n")
			t.remove(j)
		}
	}
}

// wait waits for every program of j and returns the job's status.
func (t *jobTable) wait(s *Shell, j *job) int {
	for _, pid := range j.pids {
		if _, ok := j.ended[pid]; ok {
			continue
		}
		ws, err := s.h.Wait(pid)
		if err != nil {
			ws = idl.WaitStatus{Pid: int32(pid), Exited: true, Status: 127}
		}
		j.ended[pid] = ws
	}
	t.remove(j)
	ws := j.status()
	if msg := EndMessage(ws); msg != "" {
		s.errorf("%s: %s", j.cmd, msg)
	}
	return int(ws.Status)
}

// builtinJobs lists the jobs; those that ended are listed once more, then
// forgotten.
func builtinJobs(s *Shell, out, _ io.Writer, args []string) int {
	s.jobs.reap(s)
	for _, j := range append([]*job(nil), s.jobs.jobs...) {
		io.WriteString(out, j.line()+"\n")
		if j.done() {
			s.jobs.remove(j)
		}
	}
	return 0
}

// builtinWait waits for the jobs or pids named (%N, PID), or for every
// job; its status is the last one's.
func builtinWait(s *Shell, _, errw io.Writer, args []string) int {
	if len(args) == 0 {
		for len(s.jobs.jobs) > 0 {
			s.jobs.wait(s, s.jobs.jobs[0])
		}
		return 0
	}
	status := 0
	for _, a := range args {
		if j, ok := s.jobs.find(a); ok {
			status = s.jobs.wait(s, j)
			continue
		}
		pid, err := strconv.Atoi(a)
		if err != nil || strings.HasPrefix(a, "%") {
			io.WriteString(errw, "sh: wait: "+a+": no such job\n")
			status = StatusNotFound
			continue
		}
		ws, err := s.h.Wait(pid)
		if err != nil {
			io.WriteString(errw, "sh: wait: "+a+": "+ErrText(err)+"\n")
			status = StatusNotFound
			continue
		}
		status = int(ws.Status)
	}
	return status
}

// builtinFg waits for a job (the newest, or %N / PID) as if it ran in the
// foreground: there are no signals to bring it there, so fg only waits.
func builtinFg(s *Shell, out, errw io.Writer, args []string) int {
	if len(args) > 1 {
		io.WriteString(errw, "usage: fg [%N | PID]\n")
		return StatusSyntax
	}
	var j *job
	switch {
	case len(args) == 1:
		var ok bool
		if j, ok = s.jobs.find(args[0]); !ok {
			io.WriteString(errw, "sh: fg: "+args[0]+": no such job\n")
			return 1
		}
	case len(s.jobs.jobs) > 0:
		j = s.jobs.jobs[len(s.jobs.jobs)-1]
	default:
		io.WriteString(errw, "sh: fg: no current job\n")
		return 1
	}
	io.WriteString(out, j.cmd+"\n")
	return s.jobs.wait(s, j)
}
