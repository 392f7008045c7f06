package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/gxhub/gxhub/exchange/server"
)

func init() {
	var open bool
	cmd := &cobra.Command{
		Use:   "web",
		Short: "Sign in to the hub's web pages: print (or open) a single-use sign-in link valid for 2 minutes",
		Long: `web creates a sign-in token signed with the department's SM2 key (JWS SM2SM3, typ
gxhub-login+jwt, audience = hub URL, single-use nonce, valid 2 minutes) and prints
HUB/ui/login#<token>. Open the link in a browser: the page hands the token to the hub,
which opens an 8-hour session for the department. The private key never reaches the
browser; the token is in the URL fragment, which browsers do not send to servers or logs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			id, err := loadIdentity(true)
			if err != nil {
				return err
			}
			if id.Operator != "" {
				return exitf(2, "%s is operator %s's identity: the web pages sign in with the department's own identity (operators sign each request with gxctl or the SDK)", global.identity, id.Operator)
			}
			hub, err := hubURL(id)
			if err != nil {
				return err
			}
			tok, err := server.SignLogin(id.Key, id.Code, hub, time.Now())
			if err != nil {
				return exitf(1, "sign the sign-in token: %v", err)
			}
			link := hub + "/ui/login#" + tok
			fmt.Fprintln(cmd.OutOrStdout(), link)
			fmt.Fprintf(cmd.ErrOrStderr(), "sign-in link for %s (%s): valid until %s, usable once\n", id.Name, id.Code, showTime(time.Now().Add(server.LoginTTL)))
			if open {
				if err := openBrowser(link); err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "could not open a browser (%v): open the link above yourself\n", err)
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&open, "open", false, "open the link in the default browser")
	root.AddCommand(cmd)
}

func openBrowser(url string) error {
	var c *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		c = exec.Command("open", url)
	case "windows":
		c = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
			return fmt.Errorf("no graphical display")
		}
		c = exec.Command("xdg-open", url)
	}
	return c.Start()
}
