// Package dovecot runs a private Dovecot instance as a reference peer: the
// benchmark's dsync reference (docs/architecture.md §9: `doveadm backup` over imapc) and
// the interoperability tests with software nobody here wrote (docs/architecture.md §10).
//
// An Instance is a configuration file and everything Dovecot writes
// (base_dir, state_dir, log, mail) inside one temporary directory; doveadm
// runs with `-c` pointing at that file, and Start runs `dovecot -c FILE -F`
// as a child process with an IMAP listener on a loopback address the
// caller picks.
//
// Invariants:
//   - Nothing system-wide is used or changed: no system service, no
//     /etc/dovecot, no /run/dovecot; the instance name is unique, so it
//     never meets another Dovecot on the machine.
//   - Every process this package starts is stopped by Stop or Close (and
//     the listener's master also receives SIGTERM if the parent process
//     dies); Close removes the directory.
//   - Dovecot refuses mail access as root. When the caller is root, mail
//     is owned by the unprivileged user "nobody" (Dovecot drops to it), the
//     instance directory is world-searchable, and the caller hands files
//     it wrote to that user with Chown. Otherwise everything runs as the
//     current user.
//   - Dovecot keeps its defaults where they matter for a comparison (fsync:
//     mail_fsync = optimized); the settings this package chooses are the
//     ones Dovecot's migration documentation recommends for imapc.
package dovecot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrNotInstalled is returned (wrapped) by New when doveadm, or dovecot for
// an instance with a listener, is not installed.
var ErrNotInstalled = errors.New("dovecot is not installed (Debian: apt-get install dovecot-imapd)")

// Doveadm returns the path of the doveadm binary, or an error wrapping
// ErrNotInstalled.
func Doveadm() (string, error) { return look("doveadm", "/usr/bin/doveadm") }

// Dovecot returns the path of the dovecot master binary, or an error
// wrapping ErrNotInstalled.
func Dovecot() (string, error) { return look("dovecot", "/usr/sbin/dovecot") }

func look(name, fallback string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	if _, err := os.Stat(fallback); err == nil {
		return fallback, nil
	}
	return "", fmt.Errorf("%s: %w", name, ErrNotInstalled)
}

// IMAPC is the remote IMAP server of the imapc storage (`doveadm backup
// -R imapc:` pulls from it; `doveadm sync -1 imapc:` pushes into it).
// Plain text only: the peer is on loopback.
type IMAPC struct {
	Addr     string // host:port
	User     string
	Password string
	// Features is imapc_features; default "rfc822.size fetch-headers",
	// what Dovecot's migration documentation recommends for dsync.
	Features string
}

// Options configure an Instance.
type Options struct {
	// Parent is the directory the instance directory is created in
	// (default os.TempDir()). When running as root every directory above
	// it must be searchable by others.
	Parent string
	// IMAPC configures the imapc storage; nil leaves it unconfigured.
	IMAPC *IMAPC
	// Listen is the loopback host:port of the IMAP listener Start runs;
	// "" for an instance used only through doveadm.
	Listen string
	// Users are the listener's users and their passwords.
	Users map[string]string
	// Settings are extra configuration lines ("key = value").
	Settings []string
	// SpecialUse gives mailboxes of the inbox namespace a special-use
	// attribute (RFC 6154), by name: {"Sent Messages": `\Sent`}.
	SpecialUse map[string]string
	// OAuth2, when set, adds an oauth2 passdb for the XOAUTH2 and
	// OAUTHBEARER mechanisms (before the passwords): the lines of its
	// configuration file (introspection_url = ..., and so on).
	OAuth2 []string
}

// Instance is a private Dovecot configuration in its own directory.
type Instance struct {
	// Dir is the instance directory; Config its configuration file.
	Dir, Config string
	// MailUser and MailGroup own the mail files.
	MailUser, MailGroup string
	uid, gid            int
	doveadm, dovecot    string
	listen              string
	master              *exec.Cmd
	exited              chan error
}

// New writes a configuration into a new directory under o.Parent. Mail of
// user u lives in MailDir(u) (Maildir++ layout, "/" as the hierarchy
// separator, Dovecot's default fsync).
func New(o Options) (*Instance, error) {
	in := &Instance{listen: o.Listen}
	var err error
	if in.doveadm, err = Doveadm(); err != nil {
		return nil, err
	}
	if o.Listen != "" {
		if in.dovecot, err = Dovecot(); err != nil {
			return nil, err
		}
		if host, _, err := net.SplitHostPort(o.Listen); err != nil || !net.ParseIP(host).IsLoopback() {
			return nil, fmt.Errorf("dovecot listener %q: want a loopback host:port", o.Listen)
		}
	}
	root := os.Geteuid() == 0
	internal, login := "", ""
	if root {
		in.MailUser, in.MailGroup = "nobody", "nogroup"
		internal, login = existing("dovecot", "nobody"), existing("dovenull", "nobody")
		if _, err := user.LookupGroup(in.MailGroup); err != nil {
			in.MailGroup = "nobody"
		}
	} else {
		u, err := user.Current()
		if err != nil {
			return nil, err
		}
		g, err := user.LookupGroupId(u.Gid)
		if err != nil {
			return nil, err
		}
		in.MailUser, in.MailGroup, internal, login = u.Username, g.Name, u.Username, u.Username
	}
	if in.uid, in.gid, err = ids(in.MailUser, in.MailGroup); err != nil {
		return nil, err
	}

	parent := o.Parent
	if parent == "" {
		parent = os.TempDir()
	}
	if in.Dir, err = os.MkdirTemp(parent, "dovecot-"); err != nil {
		return nil, err
	}
	fail := func(err error) (*Instance, error) {
		os.RemoveAll(in.Dir)
		return nil, err
	}
	if root {
		if err := searchable(in.Dir); err != nil {
			return fail(err)
		}
	}
	for _, d := range []string{"run", "state", "home"} {
		if err := os.MkdirAll(filepath.Join(in.Dir, d), 0o755); err != nil {
			return fail(err)
		}
	}
	in.Config = filepath.Join(in.Dir, "dovecot.conf")
	var b strings.Builder
	set := func(k, v string) { fmt.Fprintf(&b, "%s = %s\n", k, v) }
	set("instance_name", "tenantferry-"+filepath.Base(in.Dir))
	set("base_dir", filepath.Join(in.Dir, "run"))
	set("state_dir", filepath.Join(in.Dir, "state"))
	set("log_path", filepath.Join(in.Dir, "dovecot.log"))
	set("default_internal_user", internal)
	set("default_internal_group", groupOf(internal, in.MailGroup, root))
	set("default_login_user", login)
	set("mail_uid", in.MailUser)
	set("mail_gid", in.MailGroup)
	set("first_valid_uid", strconv.Itoa(in.uid))
	set("first_valid_gid", strconv.Itoa(in.gid))
	set("mail_location", "maildir:"+filepath.Join(in.Dir, "home", "%u", "Maildir"))
	set("ssl", "no")
	set("disable_plaintext_auth", "no")
	if len(o.OAuth2) > 0 {
		set("auth_mechanisms", "plain login xoauth2 oauthbearer")
	} else {
		set("auth_mechanisms", "plain login")
	}
	if o.Listen != "" {
		set("protocols", "imap")
		set("listen", "127.0.0.1")
	} else {
		set("protocols", "")
	}
	if c := o.IMAPC; c != nil {
		host, port, err := net.SplitHostPort(c.Addr)
		if err != nil {
			return fail(fmt.Errorf("imapc address %q: %w", c.Addr, err))
		}
		set("imapc_host", host)
		set("imapc_port", port)
		set("imapc_user", quote(c.User))
		set("imapc_password", quote(c.Password))
		set("imapc_ssl", "no")
		feat := c.Features
		if feat == "" {
			feat = "rfc822.size fetch-headers"
		}
		set("imapc_features", feat)
	}
	for _, l := range o.Settings {
		b.WriteString(l + "\n")
	}
	b.WriteString("namespace inbox {\n  inbox = yes\n  separator = /\n")
	boxes := make([]string, 0, len(o.SpecialUse))
	for name := range o.SpecialUse {
		boxes = append(boxes, name)
	}
	sort.Strings(boxes)
	for _, name := range boxes {
		fmt.Fprintf(&b, "  mailbox %s {\n    special_use = %s\n  }\n", quote(name), o.SpecialUse[name])
	}
	b.WriteString("}\n")
	if len(o.OAuth2) > 0 {
		conf := filepath.Join(in.Dir, "oauth2.conf.ext")
		if err := os.WriteFile(conf, []byte(strings.Join(o.OAuth2, "\n")+"\n"), 0o644); err != nil {
			return fail(err)
		}
		fmt.Fprintf(&b, "passdb {\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = %s\n}\n", conf)
	}
	fmt.Fprintf(&b, "passdb {\n  driver = passwd-file\n  args = %s\n}\n", filepath.Join(in.Dir, "passwd"))
	fmt.Fprintf(&b, "userdb {\n  driver = static\n  args = home=%s\n}\n", filepath.Join(in.Dir, "home", "%u"))
	port := "0"
	if o.Listen != "" {
		_, port, _ = net.SplitHostPort(o.Listen)
	}
	fmt.Fprintf(&b, "service imap-login {\n  chroot =\n  inet_listener imap {\n    address = 127.0.0.1\n    port = %s\n  }\n  inet_listener imaps {\n    port = 0\n  }\n}\n", port)
	b.WriteString("service anvil {\n  chroot =\n}\n")
	b.WriteString("service auth-worker {\n  user = $default_internal_user\n}\n")
	if err := os.WriteFile(in.Config, []byte(b.String()), 0o644); err != nil {
		return fail(err)
	}
	var pw strings.Builder
	names := make([]string, 0, len(o.Users))
	for u := range o.Users {
		names = append(names, u)
	}
	sort.Strings(names)
	for _, u := range names {
		if strings.ContainsAny(u+o.Users[u], ":\n") {
			return fail(fmt.Errorf("dovecot user %q: ':' and newlines are not allowed in passwd-file entries", u))
		}
		fmt.Fprintf(&pw, "%s:{PLAIN}%s::::::\n", u, o.Users[u])
	}
	if err := os.WriteFile(filepath.Join(in.Dir, "passwd"), []byte(pw.String()), 0o644); err != nil {
		return fail(err)
	}
	return in, in.Chown()
}

// MailDir returns the Maildir++ root of a user: INBOX is the root itself,
// folder "A/B" is the directory ".A.B" below it.
func (in *Instance) MailDir(user string) string {
	return filepath.Join(in.Dir, "home", user, "Maildir")
}

// Log returns the instance's log file contents.
func (in *Instance) Log() string {
	b, _ := os.ReadFile(filepath.Join(in.Dir, "dovecot.log"))
	return string(b)
}

// Chown hands the instance directory to the mail user (a no-op unless
// running as root), for files the caller wrote into MailDir.
func (in *Instance) Chown() error {
	if os.Geteuid() != 0 {
		return nil
	}
	return filepath.WalkDir(in.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, in.uid, in.gid)
	})
}

// Doveadm runs `doveadm -c CONFIG args...` as the given mail user (its
// USER and HOME; Dovecot drops to the mail uid itself) and returns the
// combined output. A non-zero exit is an error that includes the output.
func (in *Instance) Doveadm(ctx context.Context, user string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, in.doveadm, append([]string{"-c", in.Config}, args...)...)
	home := filepath.Join(in.Dir, "home", user)
	if err := os.MkdirAll(home, 0o755); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(home, in.uid, in.gid); err != nil {
			return nil, err
		}
	}
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "USER=" + user, "HOME=" + home}
	cmd.Dir = in.Dir
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.Bytes(), fmt.Errorf("doveadm %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.Bytes(), nil
}

// Start runs the Dovecot master in the foreground (`dovecot -c CONFIG -F`)
// and waits until its IMAP listener accepts connections.
func (in *Instance) Start(ctx context.Context) error {
	if in.listen == "" {
		return errors.New("dovecot instance has no listener (Options.Listen)")
	}
	if in.master != nil {
		return errors.New("dovecot instance already started")
	}
	cmd := exec.Command(in.dovecot, "-c", in.Config, "-F")
	cmd.Dir = in.Dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// Own process group (Stop signals all of it), and SIGTERM if we die.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return err
	}
	in.master, in.exited = cmd, make(chan error, 1)
	go func() { in.exited <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", in.listen, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case err := <-in.exited:
			in.exited <- err
			in.Stop()
			return fmt.Errorf("dovecot exited: %v: %s%s", err, out.String(), in.Log())
		case <-ctx.Done():
			in.Stop()
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			in.Stop()
			return fmt.Errorf("dovecot did not listen on %s: %s%s", in.listen, out.String(), in.Log())
		}
	}
}

// Stop stops the Dovecot master started by Start and its children: SIGTERM
// (the master stops its services), then SIGKILL to the process group if it
// has not exited after 10 s. It is idempotent.
func (in *Instance) Stop() error {
	if in.master == nil {
		return nil
	}
	pgid := in.master.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	var err error
	select {
	case err = <-in.exited:
	case <-time.After(10 * time.Second):
		syscall.Kill(-pgid, syscall.SIGKILL)
		err = <-in.exited
	}
	// Children that outlived the master (they exit when it closes their
	// pipes; this makes sure), and wait until the kernel has removed them:
	// a killed child exists until its new parent reaps it.
	syscall.Kill(-pgid, syscall.SIGKILL)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if syscall.Kill(-pgid, 0) == syscall.ESRCH {
			break
		}
	}
	in.master = nil
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		err = nil // killed by our signal
	}
	return err
}

// Close stops the instance and removes its directory.
func (in *Instance) Close() error {
	err := in.Stop()
	if rerr := os.RemoveAll(in.Dir); err == nil {
		err = rerr
	}
	return err
}

// quote quotes a configuration value.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// existing returns name if that system user exists, else fallback.
func existing(name, fallback string) string {
	if _, err := user.Lookup(name); err == nil {
		return name
	}
	return fallback
}

// groupOf returns the primary group of a system user (root), or def.
func groupOf(name, def string, root bool) string {
	if !root {
		return def
	}
	u, err := user.Lookup(name)
	if err != nil {
		return def
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		return def
	}
	return g.Name
}

// ids resolves a user and group name.
func ids(userName, groupName string) (int, int, error) {
	u, err := user.Lookup(userName)
	if err != nil {
		return 0, 0, err
	}
	g, err := user.LookupGroup(groupName)
	if err != nil {
		return 0, 0, err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(g.Gid)
	return uid, gid, nil
}

// searchable makes dir world-searchable and checks that every directory
// above it is, so that the unprivileged mail user can reach it.
func searchable(dir string) error {
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return err
		}
		if st.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("dovecot runs mail access as an unprivileged user, which cannot reach %s: directory %s is not searchable by others (chmod o+x, or choose another parent directory)", dir, d)
		}
		if filepath.Dir(d) == d {
			return nil
		}
	}
}
