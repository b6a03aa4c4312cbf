// Package validation checks MacLeases and MacPools and answers bad input with
// field errors that name the field and say what is wrong.
package validation
