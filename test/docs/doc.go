// Package docs holds a test that keeps README.md and docs/ honest: every
// kubemacpool-apiserver flag, kmp_ metric, repository path and link they
// name must exist. Its conventions are at the top of docs_test.go.
package docs
