// Package chart checks that charts/kubemacpool renders the same objects as
// the kustomize install in artifacts/deploy, profile by profile, and that
// both move every object and every reference when the install namespace
// changes. It runs the real helm and kubectl from _output/bin (make
// test-chart builds them).
package chart
