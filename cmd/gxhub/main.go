// Command gxhub runs the gxhub government data-sharing and e-certificate hub.
package main

import (
	"os"

	"github.com/gxhub/gxhub/cmd/gxhub/internal/app"
)

func main() { os.Exit(app.Main(os.Args[1:], os.Stdout, os.Stderr)) }
