package link

import (
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/skb"
)

// TAP is a Linux TAP interface used as a ringo net device: frames the
// kernel sends into the TAP arrive at ringo, and ringo's frames come out of
// the kernel's side. The kernel side (IfName) is configured with ip(8) like
// any interface, typically moved into a network namespace as the peer.
type TAP struct {
	Dev    *netcore.Device
	IfName string // kernel-side interface name

	fd      int
	napi    *netcore.NAPI
	stopFd  int // eventfd that stops the interrupt thread
	rearmFd int // eventfd the poll signals when it completes (unmask)
	wg      sync.WaitGroup
}

// TAPConfig sets up a TAP device.
type TAPConfig struct {
	IfName string // kernel interface name; "" lets the kernel choose
	Name   string // ringo device name
	CPU    int
	MTU    int
}

// NewTAP creates (or attaches to) a TAP interface and registers it.
func NewTAP(c *netcore.Core, cfg TAPConfig) (*TAP, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("link: open /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(cfg.IfName)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("link: tap name %q: %w", cfg.IfName, err)
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("link: TUNSETIFF %q: %w", cfg.IfName, err)
	}
	t := &TAP{fd: fd, IfName: ifr.Name()}
	if t.stopFd, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("link: eventfd: %w", err)
	}
	if t.rearmFd, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		unix.Close(fd)
		unix.Close(t.stopFd)
		return nil, fmt.Errorf("link: eventfd: %w", err)
	}
	if cfg.Name == "" {
		cfg.Name = "r" + t.IfName
	}
	t.Dev, err = c.Register(netcore.DeviceConfig{
		Name: cfg.Name, HardwareAddr: RandomMAC(), MTU: cfg.MTU, CPU: cfg.CPU, Kind: "tap",
	}, t)
	if err != nil {
		t.close()
		return nil, err
	}
	t.napi = t.Dev.NetifNAPIAdd(t.poll, 0)
	return t, nil
}

// Open implements netcore.DeviceOps: starts the "interrupt" thread that
// waits for the TAP to become readable and schedules NAPI.
func (t *TAP) Open() error {
	t.wg.Add(1)
	go t.irq()
	t.Dev.NetifCarrierOn()
	return nil
}

// Stop implements netcore.DeviceOps.
func (t *TAP) Stop() error {
	var one = [8]byte{1}
	unix.Write(t.stopFd, one[:])
	t.wg.Wait()
	var buf [8]byte
	unix.Read(t.stopFd, buf[:])
	unix.Read(t.rearmFd, buf[:])
	t.Dev.NetifCarrierOff()
	return nil
}

// Close stops the device if needed and closes the TAP.
func (t *TAP) Close() error {
	err := t.Dev.Core().Unregister(t.Dev)
	t.close()
	return err
}

func (t *TAP) close() {
	unix.Close(t.fd)
	unix.Close(t.stopFd)
	unix.Close(t.rearmFd)
}

// irq plays the interrupt line: wait until a frame is readable, schedule
// NAPI, then stay masked until the poll drains the TAP and completes (it
// signals rearmFd).
func (t *TAP) irq() {
	defer t.wg.Done()
	unmasked := []unix.PollFd{{Fd: int32(t.fd), Events: unix.POLLIN}, {Fd: int32(t.stopFd), Events: unix.POLLIN}}
	masked := []unix.PollFd{{Fd: int32(t.rearmFd), Events: unix.POLLIN}, {Fd: int32(t.stopFd), Events: unix.POLLIN}}
	var buf [8]byte
	for {
		if !waitReadable(unmasked) {
			return
		}
		t.napi.Schedule()
		if !waitReadable(masked) {
			return
		}
		unix.Read(t.rearmFd, buf[:])
	}
}

// waitReadable polls fds; it reports false when the last one (the stop fd)
// fires or poll fails.
func waitReadable(fds []unix.PollFd) bool {
	for {
		for i := range fds {
			fds[i].Revents = 0
		}
		_, err := unix.Poll(fds, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || fds[len(fds)-1].Revents != 0 {
			return false
		}
		if fds[0].Revents != 0 {
			return true
		}
	}
}

// poll reads up to budget frames.
func (t *TAP) poll(budget int) int {
	work := 0
	for work < budget {
		b := skb.Alloc(skb.DataSize - skb.Headroom)
		buf := b.Put(b.Tailroom())
		n, err := unix.Read(t.fd, buf)
		if err != nil || n <= 0 {
			b.Free()
			if err != nil && !errors.Is(err, unix.EAGAIN) {
				t.Dev.Stats.RxErrors.Add(1)
			}
			break
		}
		b.Trim(n)
		work++
		if !t.Dev.EthTypeTrans(b) {
			t.Dev.Stats.RxLengthErrors.Add(1)
			b.Free()
			continue
		}
		t.napi.GROReceive(b) // Linux's tun does GRO too
	}
	if work < budget && t.napi.Complete() {
		one := [8]byte{1}
		unix.Write(t.rearmFd, one[:])
	}
	return work
}

// StartXmit implements netcore.DeviceOps: one write(2) per frame.
func (t *TAP) StartXmit(b *skb.Buff) netcore.TxStatus {
	_, err := unix.Write(t.fd, b.Data())
	if err != nil {
		t.Dev.Stats.TxErrors.Add(1)
	}
	b.Free()
	return netcore.TxOK
}

// NAPI is the device's polling context.
func (t *TAP) NAPI() *netcore.NAPI { return t.napi }
