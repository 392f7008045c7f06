// Command gxctl is the gxhub command-line client. It talks to a hub through the public
// API and acts as a department when given that department's identity directory
// (--identity DIR holding key.pem and cert.pem). Offline commands (sm2, verify) need no hub.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// exitError carries a specific process exit code out of a command. Commands that follow a
// verifier convention (0 valid, 1 invalid, 2 usage or parse error) return it.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// exitf returns an exitError with the given code and message.
func exitf(code int, format string, args ...any) error {
	return &exitError{code: code, err: fmt.Errorf(format, args...)}
}

// root is the top-level command; each file adds its commands in init.
var root = &cobra.Command{
	Use:           "gxctl",
	Short:         "gxctl — command-line client for the gxhub government data-sharing hub",
	SilenceUsage:  true,
	SilenceErrors: true,
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintln(os.Stderr, "gxctl:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(os.Stderr, "gxctl:", err)
	return 2
}
