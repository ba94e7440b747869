#!/usr/bin/env bash
# demo.sh: boot the ringo appliance in QEMU with an e1000 and an ne2k_pci,
# each on its own slirp network, both under ringo's drivers and stack.
# Ctrl-C stops it. Runs scripts/setup.sh first (quick when done).
#
#   e1000    eth0 10.0.2.15/24 (gateway 10.0.2.2)   HTTP status page, echo forwarded from the host
#   ne2k_pci eth1 10.0.3.15/24                        HTTP status page, echo forwarded from the host
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build-initramfs.sh .cache/ringo.cpio >/dev/null

E_ECHO=${E_ECHO:-17007} E_STATUS=${E_STATUS:-17070} E_HTTP=${E_HTTP:-17080}
N_ECHO=${N_ECHO:-18007} N_STATUS=${N_STATUS:-18070} N_HTTP=${N_HTTP:-18080}
cat <<EOT
ringo demo: booting (about 10 s under TCG). Then, from another terminal:

  status page through the e1000:     curl http://127.0.0.1:$E_HTTP/
  status page through the ne2k_pci:  curl http://127.0.0.1:$N_HTTP/
  TCP echo through the e1000:        echo hello | nc -N 127.0.0.1 $E_ECHO
  UDP echo through the ne2k_pci:     echo hello | nc -u -w1 127.0.0.1 $N_ECHO
  status page over UDP:              echo | nc -u -w1 127.0.0.1 $E_STATUS

Ctrl-C stops the VM.
EOT
exec qemu-system-x86_64 -machine q35,kernel-irqchip=split -accel tcg -m 512 -smp 1 \
	-nodefaults -no-reboot -display none -serial stdio \
	-device intel-iommu,intremap=on,caching-mode=on \
	-kernel .cache/kernel/vmlinuz -initrd .cache/ringo.cpio \
	-append "console=ttyS0 intel_iommu=on hugepages=8 quiet panic=-1 ringo.ip=eth0:10.0.2.15/24,eth1:10.0.3.15/24 ringo.gw=10.0.2.2" \
	-netdev "user,id=n0,hostfwd=udp:127.0.0.1:$E_ECHO-10.0.2.15:7,hostfwd=tcp:127.0.0.1:$E_ECHO-10.0.2.15:7,hostfwd=udp:127.0.0.1:$E_STATUS-10.0.2.15:7070,hostfwd=tcp:127.0.0.1:$E_HTTP-10.0.2.15:80" \
	-device e1000,netdev=n0,mac=52:54:00:12:34:56 \
	-netdev "user,id=n1,net=10.0.3.0/24,host=10.0.3.2,dhcpstart=10.0.3.15,hostfwd=udp:127.0.0.1:$N_ECHO-10.0.3.15:7,hostfwd=tcp:127.0.0.1:$N_ECHO-10.0.3.15:7,hostfwd=udp:127.0.0.1:$N_STATUS-10.0.3.15:7070,hostfwd=tcp:127.0.0.1:$N_HTTP-10.0.3.15:80" \
	-device ne2k_pci,netdev=n1,mac=52:54:00:12:34:57
