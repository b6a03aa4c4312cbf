package localcluster

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	// stopGracePeriod is how long a component gets to exit after SIGTERM
	// before it is killed.
	stopGracePeriod = 10 * time.Second
	// logTailLines is how much of a component's log an error quotes.
	logTailLines = 30
)

// process is one running component whose output is appended to its log.
type process struct {
	name    string
	logFile string
	// logStart is where this run's output begins in the appended logFile.
	logStart int64
	cmd      *exec.Cmd
	exited   chan struct{} // closed once the process has been reaped
	waitErr  error         // valid after exited is closed
	// killedAfterGrace records that the last stop had to SIGKILL: the
	// process ignored SIGTERM for stopGracePeriod.
	killedAfterGrace atomic.Bool
}

// startProcess starts binary with args, appending stdout and stderr to
// logFile.
func startProcess(name, binary string, args []string, logFile string) (*process, error) {
	if _, err := os.Stat(binary); err != nil {
		return nil, fmt.Errorf("%s binary: %w", name, err)
	}
	logs, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening log of %s: %w", name, err)
	}
	logStart, err := logs.Seek(0, io.SeekEnd)
	if err != nil {
		_ = logs.Close()
		return nil, fmt.Errorf("finding the end of the log of %s: %w", name, err)
	}
	// The header separates starts in the appended log and records the
	// exact command line for whoever debugs it.
	fmt.Fprintf(logs, "\n=== %s starting %s %s\n", time.Now().Format(time.RFC3339), binary, strings.Join(args, " "))

	cmd := exec.Command(binary, args...)
	cmd.Stdout = logs
	cmd.Stderr = logs
	// Children stay in the launcher's process group, so a Ctrl-C in the
	// terminal reaches them at the same time as the launcher, which then
	// stops whatever still runs. Pdeathsig kills them if the launcher is
	// killed outright and cannot stop them.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logs.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &process{name: name, logFile: logFile, logStart: logStart, cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		_ = logs.Close()
		close(p.exited)
	}()
	return p, nil
}

// exitError describes an early exit, quoting the end of the log.
func (p *process) exitError() error {
	return fmt.Errorf("%s exited early (%v); last lines of %s:\n%s", p.name, p.waitErr, p.logFile, tailFile(p.logFile, p.logStart, logTailLines))
}

func (p *process) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM, waits up to stopGracePeriod, then kills. Stopping a
// process that already exited is not an error.
func (p *process) stop() error {
	select {
	case <-p.exited:
		return nil
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("sending SIGTERM to %s: %w", p.name, err)
	}
	select {
	case <-p.exited:
		return nil
	case <-time.After(stopGracePeriod):
	}
	p.killedAfterGrace.Store(true)
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("killing %s: %w", p.name, err)
	}
	<-p.exited
	return nil
}

// kill sends SIGKILL, as a crash or an OOM kill would, and waits until the
// process has been reaped. Killing a process that already exited is not an
// error.
func (p *process) kill() error {
	if p == nil {
		return fmt.Errorf("the process was never started")
	}
	select {
	case <-p.exited:
		return nil
	default:
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("killing %s: %w", p.name, err)
	}
	<-p.exited
	return nil
}

// tailFile returns the last n lines of path after offset start, or a note
// why it cannot.
func tailFile(path string, start int64, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	if start <= int64(len(data)) {
		data = data[start:]
	}
	lines := bytes.Split(bytes.Trim(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
