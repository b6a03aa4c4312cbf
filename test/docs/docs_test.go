package docs

// This test reads README.md and every docs/**/*.md and fails when a document
// names something that does not exist. What it checks, and how a document
// writer opts out, is deliberately simple:
//
//  1. Flags. An inline code span (single backticks, outside fenced ``` blocks)
//     whose text starts with "--" names a flag of kubemacpool-apiserver:
//     `--metric-addr`, `--reservation-ttl=5m`, `--embedded-etcd-*` (a prefix,
//     written with a trailing "-" or "-*"). It must be in the server's real
//     flag set, built by pkg/cmd/server.NewCommand. A flag of another program
//     written the same way goes into otherPrograms below, with the program's
//     name. Flags inside commands (`kubectl get -A --watch`) and in fenced
//     blocks are not checked: only a span that starts with "--".
//  2. Metrics. Every kmp_<name> anywhere in a document, fenced blocks
//     included, must be a metric registered by pkg/metrics.New (a histogram's
//     _bucket, _sum and _count series count as its name). "kmp_" alone or
//     "kmp_*" is a wildcard and not checked.
//  3. Paths. An inline code span that is a relative path starting with one of
//     repositoryRoots (artifacts/, docs/, hack/, pkg/, cmd/, test/, charts/,
//     plugins/) is relative to the repository root and must exist; "*"
//     globs must match something and {a,b} lists expand.
//  4. Links. Every Markdown link [text](target) whose target is not a URL
//     (no "scheme:") is relative to the document and must exist; a
//     "#fragment" on a Markdown target must be one of that document's
//     heading anchors, as GitHub renders them.

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"

	"kubemacpool.io/kubemacpool/pkg/cmd/server"
	"kubemacpool.io/kubemacpool/pkg/metrics"
)

// repoRoot is the repository, from this package's directory.
var repoRoot = filepath.Join("..", "..")

// repositoryRoots are the top-level directories a backticked path may start
// with.
var repositoryRoots = []string{"artifacts/", "docs/", "hack/", "pkg/", "cmd/", "test/", "charts/", "plugins/"}

// otherPrograms are flags of programs other than kubemacpool-apiserver that
// the documents write as a code span of their own, with the program.
var otherPrograms = map[string]string{
	"--admission-control-config-file": "kube-apiserver",
	"--token-auth-file":               "kube-apiserver",
	"--proxy-client-":                 "kube-apiserver",
	"--resource-quota-sync-period":    "kube-controller-manager",
	"--secure-listen-address":         "kube-rbac-proxy",
	"--upstream":                      "kube-rbac-proxy",
	"--allow-paths":                   "kube-rbac-proxy",
	"--wait-time":                     "the original Kubemacpool's manager",
	"--endpoints":                     "etcdctl",
	"--watch":                         "kubectl",
	"--field-selector":                "kubectl",
	"--context":                       "kubectl and kubectl macpool",
	"--as":                            "kubectl and kubectl macpool",
	"--config":                        "kubeadm",
	"--root":                          "test/localcluster/cmd",
	"--bin-dir":                       "test/localcluster/cmd",
	"--artifacts":                     "test/localcluster/cmd",
	"--quota-backend-bytes":           "etcd",
	"--take-ownership":                "helm",
	"--create-namespace":              "helm",
	"--namespace":                     "helm and kubectl",
	"--overwrite-pools":               "kubectl macpool restore",
	"--endpoint":                      "kubemacpool-apiserver snapshot save",
}

// document is one Markdown file: its path relative to the repository, and
// its lines with the fenced blocks marked.
type document struct {
	path   string
	lines  []string
	fenced []bool
}

func readDocuments(t *testing.T) []document {
	t.Helper()
	paths := []string{"README.md"}
	err := filepath.WalkDir(filepath.Join(repoRoot, "docs"), func(path string, entry os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !entry.IsDir() && strings.HasSuffix(path, ".md") {
			relative, err := filepath.Rel(repoRoot, path)
			if err != nil {
				return err
			}
			paths = append(paths, filepath.ToSlash(relative))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var documents []document
	for _, path := range paths {
		data, err := os.ReadFile(filepath.Join(repoRoot, path))
		if err != nil {
			t.Fatal(err)
		}
		documents = append(documents, parseDocument(path, string(data)))
	}
	return documents
}

func parseDocument(path, text string) document {
	doc := document{path: path, lines: strings.Split(text, "\n")}
	inFence := false
	for _, line := range doc.lines {
		fence := strings.HasPrefix(strings.TrimSpace(line), "```")
		doc.fenced = append(doc.fenced, inFence || fence)
		if fence {
			inFence = !inFence
		}
	}
	return doc
}

// reporter receives each problem found.
type reporter func(format string, args ...any)

var codeSpan = regexp.MustCompile("`([^`]+)`")

// spans calls f with every inline code span outside fenced blocks.
func (d document) spans(f func(line int, text string)) {
	for i, line := range d.lines {
		if d.fenced[i] {
			continue
		}
		for _, match := range codeSpan.FindAllStringSubmatch(line, -1) {
			f(i+1, match[1])
		}
	}
}

// serverFlags is the real flag set of kubemacpool-apiserver.
func serverFlags() map[string]bool {
	cmd := server.NewCommand(context.Background(), server.NewOptions(io.Discard, io.Discard))
	flags := map[string]bool{}
	visit := func(flag *pflag.Flag) { flags["--"+flag.Name] = true }
	cmd.Flags().VisitAll(visit)
	cmd.PersistentFlags().VisitAll(visit)
	return flags
}

var spanFlag = regexp.MustCompile(`^(--[a-z0-9][a-z0-9-]*)(\*)?(=.*)?$`)

func TestDocumentedFlagsExist(t *testing.T) {
	checkFlags(readDocuments(t), serverFlags(), t.Errorf)
}

func checkFlags(documents []document, flags map[string]bool, report reporter) {
	for _, doc := range documents {
		doc.spans(func(line int, text string) {
			if !strings.HasPrefix(text, "--") {
				return
			}
			match := spanFlag.FindStringSubmatch(strings.Fields(text)[0])
			if match == nil {
				report("%s:%d: `%s` starts like a flag but is not one (write `--name` or `--name=value`)", doc.path, line, text)
				return
			}
			name := match[1]
			if _, ok := otherPrograms[name]; ok {
				return
			}
			if strings.HasSuffix(name, "-") || match[2] == "*" {
				for flag := range flags {
					if strings.HasPrefix(flag, name) {
						return
					}
				}
				report("%s:%d: no kubemacpool-apiserver flag starts with %s (another program's? add it to otherPrograms)", doc.path, line, name)
				return
			}
			if !flags[name] {
				report("%s:%d: kubemacpool-apiserver has no flag %s (another program's? add it to otherPrograms)", doc.path, line, name)
			}
		})
	}
}

// registeredMetrics are the names of the metrics pkg/metrics registers.
func registeredMetrics(t *testing.T) map[string]bool {
	t.Helper()
	descriptions := make(chan *prometheus.Desc)
	go func() {
		metrics.New().Describe(descriptions)
		close(descriptions)
	}()
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	names := map[string]bool{}
	for description := range descriptions {
		if match := fqName.FindStringSubmatch(description.String()); match != nil {
			names[match[1]] = true
		}
	}
	if len(names) == 0 {
		t.Fatal("pkg/metrics registers no metric: the check would pass on anything")
	}
	return names
}

var metricName = regexp.MustCompile(`\bkmp_[a-z0-9_]*[a-z0-9]\b`)

func TestDocumentedMetricsExist(t *testing.T) {
	checkMetrics(readDocuments(t), registeredMetrics(t), t.Errorf)
}

func checkMetrics(documents []document, registered map[string]bool, report reporter) {
	for _, doc := range documents {
		for i, line := range doc.lines {
			for _, name := range metricName.FindAllString(line, -1) {
				base := name
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					base = strings.TrimSuffix(base, suffix)
				}
				if !registered[name] && !registered[base] {
					report("%s:%d: pkg/metrics registers no metric %s", doc.path, i+1, name)
				}
			}
		}
	}
}

var spanPath = regexp.MustCompile(`^[A-Za-z0-9._/{},*-]+$`)

func TestDocumentedPathsExist(t *testing.T) {
	checkPaths(readDocuments(t), t.Errorf)
}

func checkPaths(documents []document, report reporter) {
	for _, doc := range documents {
		doc.spans(func(line int, text string) {
			if !spanPath.MatchString(text) || !hasRepositoryRoot(text) {
				return
			}
			for _, path := range expandBraces(text) {
				matches, err := filepath.Glob(filepath.Join(repoRoot, filepath.FromSlash(path)))
				if err != nil || len(matches) == 0 {
					report("%s:%d: `%s`: %s does not exist in the repository", doc.path, line, text, path)
				}
			}
		})
	}
}

func hasRepositoryRoot(path string) bool {
	for _, root := range repositoryRoots {
		if strings.HasPrefix(path, root) {
			return true
		}
	}
	return false
}

// expandBraces turns a/{b,c}/d into a/b/d and a/c/d.
func expandBraces(path string) []string {
	open := strings.Index(path, "{")
	end := strings.Index(path, "}")
	if open < 0 || end < open {
		return []string{path}
	}
	var paths []string
	for _, choice := range strings.Split(path[open+1:end], ",") {
		paths = append(paths, expandBraces(path[:open]+choice+path[end+1:])...)
	}
	return paths
}

var (
	markdownLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	urlScheme    = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
)

func TestDocumentedLinksResolve(t *testing.T) {
	checkLinks(readDocuments(t), t.Errorf)
}

func checkLinks(documents []document, report reporter) {
	anchors := map[string]map[string]bool{}
	for _, doc := range documents {
		anchors[doc.path] = headingAnchors(doc)
	}
	for _, doc := range documents {
		for i, line := range doc.lines {
			if doc.fenced[i] {
				continue
			}
			for _, match := range markdownLink.FindAllStringSubmatch(line, -1) {
				target := match[1]
				if urlScheme.MatchString(target) {
					continue
				}
				file, fragment, _ := strings.Cut(target, "#")
				resolved := doc.path
				if file != "" {
					resolved = filepath.ToSlash(filepath.Clean(filepath.Join(filepath.Dir(doc.path), file)))
					if _, err := os.Stat(filepath.Join(repoRoot, resolved)); err != nil {
						report("%s:%d: link %s: %s does not exist", doc.path, i+1, target, resolved)
						continue
					}
				}
				if fragment == "" || !strings.HasSuffix(resolved, ".md") {
					continue
				}
				targetAnchors, ok := anchors[resolved]
				if !ok {
					// A Markdown file outside README.md and docs/.
					continue
				}
				if !targetAnchors[fragment] {
					report("%s:%d: link %s: %s has no heading with anchor #%s", doc.path, i+1, target, resolved, fragment)
				}
			}
		}
	}
}

var (
	heading           = regexp.MustCompile(`^#{1,6}\s+(.*?)\s*#*\s*$`)
	anchorPunctuation = regexp.MustCompile(`[^\p{L}\p{N} _-]`)
)

// headingAnchors are the anchors GitHub gives a document's headings:
// lower case, punctuation dropped, spaces as "-", repeats numbered.
func headingAnchors(doc document) map[string]bool {
	anchors := map[string]bool{}
	seen := map[string]int{}
	for i, line := range doc.lines {
		if doc.fenced[i] {
			continue
		}
		match := heading.FindStringSubmatch(line)
		if match == nil {
			continue
		}
		text := strings.ReplaceAll(match[1], "`", "")
		anchor := strings.ReplaceAll(anchorPunctuation.ReplaceAllString(strings.ToLower(text), ""), " ", "-")
		if n := seen[anchor]; n > 0 {
			anchors[anchor+"-"+strconv.Itoa(n)] = true
		} else {
			anchors[anchor] = true
		}
		seen[anchor]++
	}
	return anchors
}
