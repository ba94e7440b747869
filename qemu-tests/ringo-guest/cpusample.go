package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// CPU busy time from /proc/stat, sampled while a benchmark phase runs:
// the device under test's CPU per datagram or per MB.

// cpuSampler reads the guest's CPU times (/proc/stat) every 10 ms until
// end (or busy) is called.
type cpuSampler struct {
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	samples []cpuSample
	intr    uint64 // interrupts in busy's window
}

type cpuSample struct {
	at    time.Time
	ticks [8]uint64 // USER_HZ ticks: user nice system idle iowait irq softirq steal
	intr  uint64    // interrupts since boot
}

var cpuColumns = [8]string{"user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"}

func (s *cpuSample) busyTotal() (busy, total uint64) {
	for i, n := range s.ticks {
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}

func sampleCPU() *cpuSampler {
	c := &cpuSampler{stop: make(chan struct{}), done: make(chan struct{})}
	// /proc/stat stays open and is read again from offset 0: opening it
	// each time (path lookup, fstat, close) cost more than generating
	// it, under TCG 1-2 ms of the one vCPU every 10 ms.
	f, err := os.Open("/proc/stat")
	if err != nil {
		close(c.done)
		return c
	}
	buf := make([]byte, 16<<10)
	// The first sample before returning: on one vCPU the goroutine may
	// not run before the first datagram, and a window with no sample
	// before it has no figure.
	if s, ok := readCPUTimes(f, buf); ok {
		c.samples = append(c.samples, s)
	}
	go func() {
		defer close(c.done)
		defer f.Close()
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-c.stop:
				return
			case <-t.C:
			}
			if s, ok := readCPUTimes(f, buf); ok {
				c.samples = append(c.samples, s)
			}
		}
	}()
	return c
}

// busy stops the sampler and returns how busy the CPU was, in percent,
// from the last sample at or before from to the first at or after to,
// and the window's split by column (0 and "" when the samples do not
// cover it); c.intr is then the interrupts taken in the window.
func (c *cpuSampler) busy(from, to time.Time) (float64, string) {
	c.end()
	var a, b *cpuSample
	for i := range c.samples {
		s := &c.samples[i]
		if !s.at.After(from) {
			a = s
		}
		if b == nil && !s.at.Before(to) {
			b = s
		}
	}
	if a == nil || b == nil {
		return 0, ""
	}
	c.intr = b.intr - a.intr
	return busyBetween(a, b)
}

// busyBetween is how busy the CPU was from sample a to sample b, in
// percent, and the split by column.
func busyBetween(a, b *cpuSample) (float64, string) {
	busyA, totalA := a.busyTotal()
	busyB, totalB := b.busyTotal()
	if totalB <= totalA {
		return 0, ""
	}
	var split strings.Builder
	for i, name := range cpuColumns {
		if d := b.ticks[i] - a.ticks[i]; d > 0 {
			fmt.Fprintf(&split, "%s %.0f%% ", name, 100*float64(d)/float64(totalB-totalA))
		}
	}
	return 100 * float64(busyB-busyA) / float64(totalB-totalA), strings.TrimSpace(split.String())
}

// end stops the sampler; the samples stay.
func (c *cpuSampler) end() {
	c.once.Do(func() { close(c.stop) })
	<-c.done
}

// readCPUTimes reads the "cpu" line of /proc/stat — user nice system
// idle iowait irq softirq steal, then guest and guest_nice, which user and
// nice already count — and the first field of its "intr" line, from
// stat (/proc/stat, read from offset 0 into buf).
func readCPUTimes(stat *os.File, buf []byte) (cpuSample, bool) {
	s := cpuSample{at: time.Now()}
	n, err := stat.ReadAt(buf, 0)
	if n == 0 && err != nil {
		return s, false
	}
	// Only the first line and the start of "intr" become strings: the
	// sampler runs every 10 ms on the vCPU it measures.
	line, rest, _ := bytes.Cut(buf[:n], []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 5 || f[0] != "cpu" {
		return s, false
	}
	for i, v := range f[1:min(len(f), 9)] {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return s, false
		}
		s.ticks[i] = n
	}
	if i := bytes.Index(rest, []byte("\nintr ")); i >= 0 {
		f := strings.Fields(string(rest[i+len("\nintr ") : min(len(rest), i+64)]))
		if len(f) > 0 {
			s.intr, _ = strconv.ParseUint(f[0], 10, 64)
		}
	}
	return s, true
}

// CPUTick is the guest's CPU times so far (USER_HZ ticks), reported every
// second by a device under test that runs until the host stops it: the
// host takes the busy share over its measuring window from two of them.
type CPUTick struct {
	BusyTicks, TotalTicks uint64
}

// reportCPUTicks reports a CPUTick every second, for ever.
func reportCPUTicks() {
	f, err := os.Open("/proc/stat")
	if err != nil {
		select {} // no figure, and the scenario still runs until stopped
	}
	buf := make([]byte, 16<<10)
	for {
		if s, ok := readCPUTimes(f, buf); ok {
			busy, total := s.busyTotal()
			report(CPUTick{busy, total})
		}
		time.Sleep(time.Second)
	}
}
