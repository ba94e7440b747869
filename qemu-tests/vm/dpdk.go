package vm

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/u-root/mkuimage/cpio"
)

// DPDK is Debian's DPDK (the dpdk-dev package): testpmd and the poll mode
// drivers the benchmark loads.
const (
	DPDKTestpmd = "/usr/bin/dpdk-testpmd"
	DPDKPMDDir  = "/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0"
)

// DPDKPMDs are the drivers testpmd needs for an 82540EM behind vfio-pci.
// EAL loads every driver in DPDKPMDDir, so the guest has only these.
var DPDKPMDs = []string{"librte_bus_pci.so.23", "librte_net_e1000.so.23", "librte_mempool_ring.so.23"}

// BuildDPDKArchive writes a cpio archive of testpmd, the PMDs and every
// shared library they load, each at the path the loader looks for and
// dereferenced (u-root's -files follows DPDK's symlink chains badly), and
// the directories DPDK wants. Appended to a u-root initramfs it adds
// them: the kernel unpacks concatenated archives in turn.
func BuildDPDKArchive(out string) error {
	if _, err := os.Stat(DPDKTestpmd); err != nil {
		return fmt.Errorf("vm: no %s: install dpdk-dev (scripts/setup.sh): %w", DPDKTestpmd, err)
	}
	files := map[string]string{DPDKTestpmd: DPDKTestpmd} // guest path -> host file
	objs := []string{DPDKTestpmd}
	for _, p := range DPDKPMDs {
		path := filepath.Join(DPDKPMDDir, p)
		files[path] = path
		objs = append(objs, path)
	}
	for _, o := range objs {
		deps, err := sharedDeps(o)
		if err != nil {
			return err
		}
		for _, d := range deps {
			files[d] = d
		}
	}
	// glibc loads libgcc_s at run time (pthread_cancel, backtraces).
	files["/lib/x86_64-linux-gnu/libgcc_s.so.1"] = "/lib/x86_64-linux-gnu/libgcc_s.so.1"

	var recs []cpio.Record
	for _, d := range []string{"/var/run/dpdk", "/dev/hugepages"} {
		recs = append(recs, cpio.Directory(strings.TrimPrefix(d, "/"), 0o755))
	}
	for guest, host := range files {
		b, err := os.ReadFile(host) // follows symlinks: the file itself
		if err != nil {
			return fmt.Errorf("vm: dpdk archive: %w", err)
		}
		recs = append(recs, cpio.StaticFile(strings.TrimPrefix(guest, "/"), string(b), 0o755))
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	w := cpio.Newc.Writer(f)
	if err := cpio.WriteRecordsAndDirs(w, recs); err != nil {
		f.Close()
		return fmt.Errorf("vm: dpdk archive: %w", err)
	}
	if err := cpio.WriteTrailer(w); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// sharedDeps lists the libraries ldd resolves for an ELF file, loader
// included, by the paths it resolves them to.
func sharedDeps(path string) ([]string, error) {
	out, err := exec.Command("ldd", path).Output()
	if err != nil {
		return nil, fmt.Errorf("vm: ldd %s: %w", path, err)
	}
	var deps []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			deps = append(deps, f[2])
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			deps = append(deps, f[0]) // the loader
		case len(f) >= 3 && f[1] == "=>" && f[2] == "not":
			return nil, fmt.Errorf("vm: %s needs %s, not found", path, f[0])
		}
	}
	return deps, nil
}

// Concat writes the archives one after another into out.
func Concat(out string, parts ...string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	for _, p := range parts {
		in, err := os.Open(p)
		if err != nil {
			f.Close()
			return err
		}
		_, err = io.Copy(f, in)
		in.Close()
		if err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}
