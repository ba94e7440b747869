// Command mkinitramfs builds a u-root initramfs whose uinit is a ringo
// command, with the VFIO and NIC kernel modules from the kernel that
// scripts/setup.sh cached. scripts/build-initramfs.sh runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/ringonet/ringo/qemu-tests/vm"
)

func main() {
	out := flag.String("o", ".cache/ringo.cpio", "output file")
	uinit := flag.String("uinit", "./cmd/ringo-init", "package of the uinit command")
	flag.Parse()
	root, err := vm.Root()
	if err == nil {
		var k vm.Kernel
		if k, err = vm.FindKernel(root); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			err = vm.BuildInitramfs(ctx, root, k, *out, *uinit, []string{"github.com/u-root/u-root/cmds/core/ip"}, nil)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkinitramfs:", err)
		os.Exit(1)
	}
	fmt.Println(*out)
}
