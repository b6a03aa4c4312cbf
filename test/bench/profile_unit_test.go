package bench

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
)

// retained keeps what allocateForProfile allocates alive, so that a heap
// profile shows it.
var retained [][]byte

//go:noinline
func allocateForProfile() {
	for range 64 {
		retained = append(retained, make([]byte, 256<<10))
	}
}

// heapProfile is a heap profile of this test process in which
// allocateForProfile holds 16 MiB.
func heapProfile(t *testing.T) []byte {
	t.Helper()
	allocateForProfile()
	runtime.GC()
	var profile bytes.Buffer
	if err := pprof.Lookup("heap").WriteTo(&profile, 0); err != nil {
		t.Fatal(err)
	}
	return profile.Bytes()
}

func goCommand(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the top files are written by `go tool pprof`: %v", err)
	}
	return goBin
}

func TestWriteTop(t *testing.T) {
	goBin, dir := goCommand(t), t.TempDir()
	profile := filepath.Join(dir, "BenchmarkX.heap.pb.gz")
	if err := os.WriteFile(profile, heapProfile(t), 0o644); err != nil {
		t.Fatal(err)
	}
	top := filepath.Join(dir, "BenchmarkX.heap.top.txt")
	if err := writeTop(goBin, profile, top); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(top)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	flat := strings.Index(text, "# go tool pprof -top -nodecount=25 BenchmarkX.heap.pb.gz\n")
	cum := strings.Index(text, "# go tool pprof -top -cum -nodecount=25 BenchmarkX.heap.pb.gz\n")
	if flat != 0 || cum <= flat {
		t.Fatalf("want a section sorted by flat, then one sorted by cum; got:\n%s", text)
	}
	for name, section := range map[string]string{"flat": text[flat:cum], "cum": text[cum:]} {
		if !strings.Contains(section, "flat%") || !strings.Contains(section, "cum%") {
			t.Errorf("%s section has no flat%%/cum%% columns:\n%s", name, section)
		}
		if !strings.Contains(section, "allocateForProfile") {
			t.Errorf("%s section does not list the function that holds the heap:\n%s", name, section)
		}
		if entries := strings.Count(section, "\n") - 1; entries > 25+8 {
			t.Errorf("%s section has %d lines, want at most 25 entries and a header", name, entries)
		}
	}
}

func TestSaveMergesWindows(t *testing.T) {
	p := &profiler{dir: t.TempDir(), goBin: goCommand(t)}
	if err := p.save("BenchmarkPodCreate/clients=16.cpu", [][]byte{heapProfile(t), heapProfile(t)}); err != nil {
		t.Fatal(err)
	}
	merged, err := os.ReadFile(filepath.Join(p.dir, "BenchmarkPodCreate-clients=16.cpu.pb.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(merged, []byte{0x1f, 0x8b}) {
		t.Errorf("the merged profile is not gzip-compressed protobuf (starts with % x)", merged[:min(4, len(merged))])
	}
	top, err := os.ReadFile(filepath.Join(p.dir, "BenchmarkPodCreate-clients=16.cpu.top.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(top), "allocateForProfile") {
		t.Errorf("the top of the merged profile misses the allocations:\n%s", top)
	}
	entries, err := os.ReadDir(p.dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Errorf("want only the profile and its top in %s, got %v", p.dir, entries)
	}
}

func TestSaveWithoutWindowsFails(t *testing.T) {
	p := &profiler{dir: t.TempDir(), goBin: goCommand(t)}
	if err := p.save("BenchmarkX.cpu", nil); err == nil {
		t.Error("no error for a profile that recorded nothing")
	}
}

func TestNilProfileRecordsNothing(t *testing.T) {
	var p *profiler
	c := p.cpuProfile()
	c.begin(t.Context())
	if err := c.end(); err != nil {
		t.Error(err)
	}
	if err := c.save("x"); err != nil {
		t.Error(err)
	}
	if err := p.heap(t.Context(), "x"); err != nil {
		t.Error(err)
	}
}

//go:noinline
func allocateBetweenSnapshots() {
	for range 64 {
		retained = append(retained, make([]byte, 256<<10))
	}
}

// allocsSnapshot is this process' allocation profile, complete up to now
// (the profile reports up to the last finished garbage collection).
func allocsSnapshot(t *testing.T) []byte {
	t.Helper()
	runtime.GC()
	var profile bytes.Buffer
	if err := pprof.Lookup("allocs").WriteTo(&profile, 0); err != nil {
		t.Fatal(err)
	}
	return profile.Bytes()
}

func TestAllocationDeltasKeepOnlyWhatWasAllocatedBetween(t *testing.T) {
	allocateForProfile()
	before := allocsSnapshot(t)
	allocateBetweenSnapshots()
	after := allocsSnapshot(t)

	p := &profiler{dir: t.TempDir(), goBin: goCommand(t)}
	deltas, err := p.allocationDeltas([][2][]byte{{before, after}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.save("BenchmarkX.allocs", deltas, "-sample_index=alloc_space"); err != nil {
		t.Fatal(err)
	}
	top, err := os.ReadFile(filepath.Join(p.dir, "BenchmarkX.allocs.top.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(top), "allocateBetweenSnapshots") {
		t.Errorf("the allocations between the snapshots are missing:\n%s", top)
	}
	if strings.Contains(string(top), "allocateForProfile") {
		t.Errorf("allocations from before the first snapshot are counted:\n%s", top)
	}
	if !strings.Contains(string(top), "Type: alloc_space") {
		t.Errorf("want the top by bytes allocated:\n%s", top)
	}
}
