package main

import (
	"fmt"

	"github.com/jejak-forensics/jejak/casework"
	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/urfave/cli/v2"
)

func keyCmd(e *env) *cli.Command {
	return withHelp(&cli.Command{
		Name:  "key",
		Usage: "make and inspect the ed25519 keys that sign custody entries",
		Description: `With a key (the global --sign-key FILE or JEJAK_SIGN_KEY), every custody
entry a command writes is signed, so a case cannot be re-written by someone
who can edit files but does not hold the key. 'key new' makes a key pair;
give the .pub file to whoever verifies ('jejak verify CASE --key FILE.pub').`,
		Subcommands: []*cli.Command{{
			Name:      "new",
			Usage:     "make a signing key pair: FILE (private) and FILE.pub",
			ArgsUsage: "FILE",
			Description: `Writes an ed25519 private key to FILE as PEM "PRIVATE KEY" (PKCS #8, the
form openssl and Go's crypto/x509 read), readable by you alone, and the public
key to FILE.pub in OpenSSH's form ("ssh-ed25519 AAAA… COMMENT"), so
'ssh-keygen -lf FILE.pub' prints the same fingerprint jejak reports.

Sign a case's custody with 'jejak --sign-key FILE COMMAND …' (or
JEJAK_SIGN_KEY=FILE). Given at 'case init', the public key is recorded in
case.json and every later entry must be signed by it. An unencrypted OpenSSH
ed25519 key (ssh-keygen -t ed25519 -N '') works as well. Hand FILE.pub to
whoever checks the case: 'jejak verify CASE --key FILE.pub'.`,
			Flags: []cli.Flag{&cli.StringFlag{Name: "comment", Value: "jejak custody key", Usage: "comment on the public key line"}},
			Action: func(c *cli.Context) error {
				path, err := oneArg(c, "FILE")
				if err != nil {
					return err
				}
				k, err := casework.NewKeyFiles(path, c.String("comment"))
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "private key %s\npublic key  %s.pub\nfingerprint %s\n", path, path, k.Fingerprint())
				return nil
			},
		}, {
			Name:      "show",
			Usage:     "print a key's public half and fingerprint",
			ArgsUsage: "FILE",
			Action: func(c *cli.Context) error {
				path, err := oneArg(c, "FILE")
				if err != nil {
					return err
				}
				k, err := evidence.LoadPublicKey(path)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "%s\nfingerprint %s\n", k.String(), k.Fingerprint())
				return nil
			},
		}},
	})
}
