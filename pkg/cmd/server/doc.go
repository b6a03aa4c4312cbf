// Package server holds the options and the cobra command of
// kubemacpool-apiserver.
package server
