package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

const childEnv = "RINGO_CHILD"

// KillReport says how the child driver process died.
type KillReport struct {
	Killed   bool
	RanMS    int64
	ExitText string
}

// killRestart runs ipserve in a child process that owns the NICs through
// VFIO and is mid-traffic (pinging ringo.ping without pause), kills it
// with SIGKILL after ringo.killafter seconds, then opens the same NICs
// again in this process and runs ipserve's ping test: the device must be
// reset and usable, and nothing of the dead process's DMA may matter.
// Closing the dead process's VFIO container removed its IOMMU mappings,
// so the card could no longer reach its old rings or buffers.
func killRestart(args map[string]string) error {
	cmd := exec.Command("/proc/self/exe")
	cmd.Args[0] = "ringo-guest" // u-root's busybox picks the command by argv[0]
	cmd.Env = append(os.Environ(), childEnv+"=ipserve")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.MultiWriter(os.Stdout, &out), io.MultiWriter(os.Stderr, &out)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start child: %w", err)
	}
	time.Sleep(time.Duration(atoiDefault(args["ringo.killafter"], 4)) * time.Second)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill child: %w", err)
	}
	err := cmd.Wait()
	rep := KillReport{RanMS: time.Since(start).Milliseconds()}
	if err != nil {
		rep.ExitText = err.Error()
		if b := out.Bytes(); len(b) > 0 && !bytes.Contains(b, []byte("ready")) {
			rep.ExitText += ": " + string(b[max(0, len(b)-300):])
		}
		if ee, ok := err.(*exec.ExitError); ok {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok {
				rep.Killed = ws.Signaled() && ws.Signal() == syscall.SIGKILL
			}
		}
	}
	report(rep)
	nics, err := openNICs()
	if err != nil {
		return fmt.Errorf("reopen after the kill: %w", err)
	}
	defer func() {
		for _, n := range nics {
			n.VFIO.Close()
		}
	}()
	after := map[string]string{}
	for k, v := range args {
		after[k] = v
	}
	after["ringo.count"] = "5"
	return ipServe(after, nics)
}
