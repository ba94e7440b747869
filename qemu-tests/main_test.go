package qemutests

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/qemu-tests/vm"
)

// env is what TestMain prepared for the tests.
var env struct {
	root      string
	kernel    vm.Kernel
	initramfs string
	skip      string // why QEMU tests cannot run here, "" if they can
	artifacts string // kept logs and pcaps of failed tests
}

// required reports whether a QEMU test that cannot run must fail rather
// than skip (CI, or RINGO_REQUIRE_QEMU=1).
func required() bool {
	return os.Getenv("CI") == "true" || os.Getenv("RINGO_REQUIRE_QEMU") == "1"
}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(setup(m))
}

func setup(m *testing.M) int {
	var err error
	if env.root, err = vm.Root(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	env.artifacts = filepath.Join(env.root, ".cache", "qemu-tests")
	switch {
	case !hasQEMU():
		env.skip = "qemu-system-x86_64 not found: run scripts/setup.sh (apt-get install qemu-system-x86)"
	default:
		if env.kernel, err = vm.FindKernel(env.root); err != nil {
			env.skip = err.Error()
		}
	}
	if env.skip == "" && !testing.Short() {
		tmp, err := os.MkdirTemp("", "ringo-initramfs")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(tmp)
		env.initramfs = filepath.Join(tmp, "guest.cpio")
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		err = vm.BuildInitramfs(ctx, env.root, env.kernel, env.initramfs, "./qemu-tests/ringo-guest",
			[]string{"github.com/u-root/u-root/cmds/core/ip"}, nil)
		cancel()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Fprintf(os.Stderr, "qemu-tests: initramfs built in %v\n", time.Since(start).Round(time.Second))
	}
	return m.Run()
}

func hasQEMU() bool {
	_, err := exec.LookPath("qemu-system-x86_64")
	return err == nil
}

// needQEMU skips (or, under CI, fails) a test that cannot run here.
func needQEMU(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("QEMU test skipped in -short mode")
	}
	if env.skip != "" {
		if required() {
			t.Fatalf("QEMU test cannot run: %s", env.skip)
		}
		t.Skip(env.skip)
	}
}

// boot starts a guest running the named scenario. On failure the serial log
// and pcaps are copied to .cache/qemu-tests/TESTNAME.
func boot(t testing.TB, cfg vm.Config, scenario string, args ...string) *vm.VM {
	t.Helper()
	needQEMU(t)
	cfg.Kernel = env.kernel.Vmlinuz
	if cfg.Initramfs == "" {
		cfg.Initramfs = env.initramfs
	}
	cfg.Cmdline = append([]string{"ringo.test=" + scenario}, append(args, cfg.Cmdline...)...)
	if d := os.Getenv("RINGO_VM_LOGS"); d != "" && cfg.Dir == "" {
		// RINGO_VM_LOGS=DIR keeps each VM's serial log (and pcaps) under
		// DIR/<test name> after the test.
		cfg.Dir = filepath.Join(d, strings.ReplaceAll(t.Name(), "/", "_"))
	}
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	v, err := vm.Start(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		v.Kill()
		if t.Failed() {
			keep := filepath.Join(env.artifacts, t.Name())
			os.MkdirAll(keep, 0o755)
			for _, p := range append([]string{v.LogPath()}, v.Pcaps...) {
				if b, err := os.ReadFile(p); err == nil {
					os.WriteFile(filepath.Join(keep, filepath.Base(p)), b, 0o644)
				}
			}
			t.Logf("kept serial log and pcaps in %s", keep)
		}
	})
	return v
}

// decode unmarshals each report into a fresh T.
func decode[T any](t testing.TB, raw []json.RawMessage) []T {
	t.Helper()
	out := make([]T, len(raw))
	for i, r := range raw {
		require.NoError(t, json.Unmarshal(r, &out[i]), "report %d: %s", i, r)
	}
	return out
}

func raws(r []json.RawMessage) [][]byte {
	out := make([][]byte, len(r))
	for i := range r {
		out[i] = r[i]
	}
	return out
}

func decodeBytes[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(b, &v), "%s", b)
	return v
}
