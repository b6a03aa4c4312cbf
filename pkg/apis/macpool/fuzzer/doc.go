// Package fuzzer fills macpool.kubemacpool.io objects with random values
// that survive defaulting unchanged, for the API round-trip tests.
package fuzzer
