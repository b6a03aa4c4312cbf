package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/rest"
)

// profileWindow is the length of one CPU profile request, in whole seconds
// (the unit of /debug/pprof/profile?seconds=). A recording is a chain of
// windows, because a profile cannot be cut short: a request cancelled early
// returns nothing. So a recording ends up to one window after its side's
// round, and the next round waits for it. Shorter windows waste less of that
// wait, longer ones cost the server less encoding; the request timeout of the
// server (60 s) caps them.
const profileWindow = 2

// profiler fetches pprof profiles from kubemacpool-apiserver (replica 0)
// itself, not through the aggregator, or from kube-apiserver, with the
// admin client certificate: k8s.io/apiserver serves /debug/pprof on its
// secure port (--profiling, on by default) to whoever may get that
// non-resource URL. It writes them to
// dir, each with a <name>.top.txt of its top entries.
type profiler struct {
	dir    string
	base   string
	client *http.Client
	// goBin runs `go tool pprof` to merge profiles and list their tops.
	goBin string
}

// newProfiler prepares profiling into dir; config reaches the server.
func newProfiler(dir string, config *rest.Config) (*profiler, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("KMP_BENCH_PROFILE needs the go command for `go tool pprof`: %w", err)
	}
	client, err := rest.HTTPClientFor(config)
	if err != nil {
		return nil, fmt.Errorf("a client for the profiles of kubemacpool-apiserver: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return &profiler{dir: dir, base: strings.TrimSuffix(config.Host, "/"), client: client, goBin: goBin}, nil
}

// fetch GETs a /debug/pprof path and returns the profile.
func (p *profiler) fetch(ctx context.Context, path string, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	request, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path, nil)
	if err != nil {
		return nil, err
	}
	response, err := p.client.Do(request)
	if err != nil {
		return nil, err
	}
	defer response.Body.Close()
	body, err := io.ReadAll(response.Body)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if response.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %.200s", path, response.Status, body)
	}
	return body, nil
}

// heap saves the heap profile of the server as <name>.pb.gz, after a
// garbage collection so that it shows what is live.
func (p *profiler) heap(ctx context.Context, name string) error {
	if p == nil {
		return nil
	}
	data, err := p.fetch(ctx, "/debug/pprof/heap?gc=1", time.Minute)
	if err != nil {
		return fmt.Errorf("heap profile %s: %w", name, err)
	}
	return p.save(name, [][]byte{data})
}

// save writes the profiles as one <name>.pb.gz, merged by `go tool pprof
// -proto` when there are several, and <name>.top.txt next to it.
func (p *profiler) save(name string, profiles [][]byte, topFlags ...string) error {
	if len(profiles) == 0 {
		return fmt.Errorf("profile %s: nothing recorded", name)
	}
	name = profileFileName(name)
	out := filepath.Join(p.dir, name+".pb.gz")
	if err := mergeProfiles(p.goBin, out, profiles); err != nil {
		return fmt.Errorf("profile %s: %w", name, err)
	}
	return writeTop(p.goBin, out, filepath.Join(p.dir, name+".top.txt"), topFlags...)
}

// profileFileName turns a benchmark name (BenchmarkPodCreate/clients=16)
// into a file name (BenchmarkPodCreate-clients=16).
func profileFileName(name string) string { return strings.ReplaceAll(name, "/", "-") }

// mergeProfiles writes profiles to out, merging several into one.
func mergeProfiles(goBin, out string, profiles [][]byte) error {
	if len(profiles) == 1 {
		return os.WriteFile(out, profiles[0], 0o644)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(out), ".windows-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	args := []string{"tool", "pprof", "-proto"}
	for i, data := range profiles {
		path := filepath.Join(tmp, fmt.Sprintf("%04d.pb.gz", i))
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return err
		}
		args = append(args, path)
	}
	merged, err := runGo(goBin, args...)
	if err != nil {
		return fmt.Errorf("merging %d profiles: %w", len(profiles), err)
	}
	return os.WriteFile(out, merged, 0o644)
}

// writeTop writes the 25 top entries of a profile to top, sorted by flat
// and again by cumulative value, as `go tool pprof -top` prints them with
// extra flags.
func writeTop(goBin, profile, top string, extra ...string) error {
	var text strings.Builder
	for _, flags := range [][]string{{"-top", "-nodecount=25"}, {"-top", "-cum", "-nodecount=25"}} {
		flags = append(flags, extra...)
		args := append(append([]string{"tool", "pprof"}, flags...), profile)
		output, err := runGo(goBin, args...)
		if err != nil {
			return fmt.Errorf("top of %s: %w", profile, err)
		}
		fmt.Fprintf(&text, "# go tool pprof %s %s\n%s\n", strings.Join(flags, " "), filepath.Base(profile), output)
	}
	return os.WriteFile(top, []byte(text.String()), 0o644)
}

// runGo runs the go command and returns its standard output.
func runGo(goBin string, args ...string) ([]byte, error) {
	cmd := exec.Command(goBin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	output, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return output, nil
}

// cpuProfile is a CPU profile of kubemacpool-apiserver recorded in pieces:
// from begin to end, again and again (one side's rounds), then saved as one.
// A nil *cpuProfile records nothing, so that callers need not ask whether
// profiling is on.
type cpuProfile struct {
	p *profiler
	// untilServed: the server may not serve yet when begin is called (it
	// is starting); failed windows are retried until end.
	untilServed bool
	windows     [][]byte
	// allocs are snapshots of /debug/pprof/allocs (every allocation since
	// the process started) at the begin and end of each piece, in pairs:
	// what the pieces allocated is the sum of the pairs' differences.
	// They are not taken while untilServed.
	allocs  [][2][]byte
	stop    chan struct{}
	done    chan error
	pending []byte
}

// cpuProfile returns a new recording, or nil when p is nil (profiling off).
func (p *profiler) cpuProfile() *cpuProfile {
	if p == nil {
		return nil
	}
	return &cpuProfile{p: p}
}

// begin starts recording windows in the background until end.
func (c *cpuProfile) begin(ctx context.Context) {
	if c == nil {
		return
	}
	c.stop, c.done = make(chan struct{}), make(chan error, 1)
	if !c.untilServed {
		// A failed snapshot only costs the allocation profile: end
		// then has no pair to close.
		c.pending, _ = c.p.fetch(ctx, "/debug/pprof/allocs", time.Minute)
	}
	go func() { c.done <- c.record(ctx) }()
}

// record fetches one window after the other until stop is closed.
func (c *cpuProfile) record(ctx context.Context) error {
	path := fmt.Sprintf("/debug/pprof/profile?seconds=%d", profileWindow)
	for {
		data, err := c.p.fetch(ctx, path, profileWindow*time.Second+30*time.Second)
		switch {
		case err == nil:
			c.windows = append(c.windows, data)
		case !c.untilServed:
			return err
		}
		select {
		case <-c.stop:
			return nil
		default:
		}
		if err != nil {
			// Not serving yet; no window was recorded.
			select {
			case <-c.stop:
				return nil
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

// end waits for the window under way, which ends up to profileWindow
// seconds later, and stops recording.
func (c *cpuProfile) end() error {
	if c == nil || c.stop == nil {
		return nil
	}
	close(c.stop)
	err := <-c.done
	c.stop = nil
	if before := c.pending; before != nil {
		c.pending = nil
		after, allocErr := c.p.fetch(context.Background(), "/debug/pprof/allocs", time.Minute)
		if allocErr != nil && err == nil {
			err = fmt.Errorf("allocation snapshot: %w", allocErr)
		}
		if allocErr == nil {
			c.allocs = append(c.allocs, [2][]byte{before, after})
		}
	}
	return err
}

// save writes what was recorded as <name>.pb.gz and <name>.top.txt, and
// what was allocated meanwhile as <name without .cpu>.allocs.pb.gz and its
// .top.txt (by bytes allocated).
func (c *cpuProfile) save(name string) error {
	if c == nil {
		return nil
	}
	if err := c.p.save(name, c.windows); err != nil {
		return err
	}
	if len(c.allocs) == 0 {
		return nil
	}
	deltas, err := c.p.allocationDeltas(c.allocs)
	if err != nil {
		return err
	}
	return c.p.save(strings.TrimSuffix(name, ".cpu")+".allocs", deltas, "-sample_index=alloc_space")
}

// allocationDeltas turns pairs of allocation snapshots into the profiles of
// what was allocated between the two of each pair.
func (p *profiler) allocationDeltas(pairs [][2][]byte) ([][]byte, error) {
	tmp, err := os.MkdirTemp(p.dir, ".allocs-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	var deltas [][]byte
	for i, pair := range pairs {
		before, after := filepath.Join(tmp, fmt.Sprintf("%04d-before.pb.gz", i)), filepath.Join(tmp, fmt.Sprintf("%04d-after.pb.gz", i))
		if err := os.WriteFile(before, pair[0], 0o644); err != nil {
			return nil, err
		}
		if err := os.WriteFile(after, pair[1], 0o644); err != nil {
			return nil, err
		}
		delta, err := runGo(p.goBin, "tool", "pprof", "-proto", "-base", before, after)
		if err != nil {
			return nil, fmt.Errorf("allocations of piece %d: %w", i, err)
		}
		deltas = append(deltas, delta)
	}
	return deltas, nil
}
