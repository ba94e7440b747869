// Package impair is a seedable bad network for any net device, in the
// spirit of Linux's netem: loss, duplication, delay with jitter, and
// reordering, on the way out of a device (egress, as netem does) and on
// the way in (ingress, as netem behind an ifb does). One seed gives one
// sequence of decisions per direction, so a failing run can be replayed;
// timing can still vary with the scheduler.
//
// Each direction owns a goroutine that releases delayed frames when they
// are due; the queue of delayed frames is bounded (Limit), and frames
// over it are dropped and counted.
package impair

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/skb"
)

// Config is one direction's impairment. The zero value passes every frame
// unchanged.
type Config struct {
	Loss      float64       // fraction of frames dropped
	Duplicate float64       // fraction of frames sent twice
	Delay     time.Duration // added to every frame not reordered
	Jitter    time.Duration // uniform in [-Jitter, +Jitter] on top of Delay
	// Reorder is the fraction of frames sent at once, ahead of the
	// delayed ones (netem's reorder; needs a Delay).
	Reorder float64
	Limit   int    // delayed frames held at most: default 1000
	Seed    uint64 // seeds the decisions
}

// Active reports whether the configuration changes anything.
func (c Config) Active() bool {
	return c.Loss > 0 || c.Duplicate > 0 || c.Delay > 0 || c.Jitter > 0 || c.Reorder > 0
}

// Stats count what a direction did.
type Stats struct {
	Frames     atomic.Uint64 // seen
	Lost       atomic.Uint64 // dropped on purpose
	Duplicated atomic.Uint64
	Reordered  atomic.Uint64 // sent ahead of delayed frames
	Delayed    atomic.Uint64
	Overlimit  atomic.Uint64 // dropped because the delay queue was full
}

func (s *Stats) String() string {
	return fmt.Sprintf("frames %d lost %d duplicated %d reordered %d delayed %d overlimit %d",
		s.Frames.Load(), s.Lost.Load(), s.Duplicated.Load(), s.Reordered.Load(), s.Delayed.Load(), s.Overlimit.Load())
}

// Impairment is installed on one device; Remove takes it off.
type Impairment struct {
	dev     *netcore.Device
	Ingress *Direction
	Egress  *Direction
}

// Attach installs the impairments on dev: egress on what the stack
// sends, ingress on what the device receives.
func Attach(dev *netcore.Device, egress, ingress Config) *Impairment {
	im := &Impairment{dev: dev}
	im.Egress = newDirection(egress, 0, func(b *skb.Buff) { dev.ReinjectTx(b) })
	im.Ingress = newDirection(ingress, 1, func(b *skb.Buff) { dev.ReinjectRx(b) })
	var in, out netcore.Hook
	if ingress.Active() {
		in = im.Ingress.hook
	}
	if egress.Active() {
		out = im.Egress.hook
	}
	dev.SetHooks(in, out)
	return im
}

// Remove takes the hooks off the device and sends on every frame still
// delayed.
func (im *Impairment) Remove() {
	im.dev.SetHooks(nil, nil)
	im.Egress.stop()
	im.Ingress.stop()
}

// Direction is one direction of an impairment.
type Direction struct {
	cfg     Config
	deliver func(*skb.Buff)
	Stats   Stats

	mu      sync.Mutex // guards rng, q, seq, stopped
	rng     *rand.Rand
	q       delayQueue
	seq     uint64
	stopped bool
	kick    chan struct{}
	done    chan struct{}
}

func newDirection(cfg Config, stream uint64, deliver func(*skb.Buff)) *Direction {
	if cfg.Limit <= 0 {
		cfg.Limit = 1000
	}
	d := &Direction{cfg: cfg, deliver: deliver, rng: rand.New(rand.NewPCG(cfg.Seed, stream)),
		kick: make(chan struct{}, 1), done: make(chan struct{})}
	go d.run()
	return d
}

// hook decides a frame's fate. It takes every frame it delays or drops;
// a frame that is neither goes on at once, unless frames are waiting
// (then it would overtake them, which only Reorder may do).
func (d *Direction) hook(b *skb.Buff) bool {
	d.Stats.Frames.Add(1)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return false
	}
	if d.cfg.Loss > 0 && d.rng.Float64() < d.cfg.Loss {
		d.Stats.Lost.Add(1)
		b.Free()
		return true
	}
	if d.cfg.Duplicate > 0 && d.rng.Float64() < d.cfg.Duplicate {
		if dup := b.Copy(); dup != nil {
			d.Stats.Duplicated.Add(1)
			if delay := d.delayLocked(); delay > 0 || d.q.Len() > 0 {
				d.enqueueLocked(dup, delay)
			} else {
				d.deliver(dup) // at once, ahead of the original
			}
		}
	}
	if d.cfg.Reorder > 0 && d.rng.Float64() < d.cfg.Reorder {
		d.Stats.Reordered.Add(1)
		return false // goes now, ahead of the delayed ones
	}
	delay := d.delayLocked()
	if delay <= 0 && d.q.Len() == 0 {
		return false
	}
	d.enqueueLocked(b, delay)
	return true
}

func (d *Direction) delayLocked() time.Duration {
	delay := d.cfg.Delay
	if j := d.cfg.Jitter; j > 0 {
		delay += time.Duration(d.rng.Int64N(int64(2*j)+1)) - j
	}
	return max(delay, 0)
}

func (d *Direction) enqueueLocked(b *skb.Buff, delay time.Duration) {
	if d.q.Len() >= d.cfg.Limit {
		d.Stats.Overlimit.Add(1)
		b.Free()
		return
	}
	d.Stats.Delayed.Add(1)
	d.seq++
	d.q.push(delayed{due: time.Now().Add(delay), seq: d.seq, b: b})
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// run releases frames when they are due.
func (d *Direction) run() {
	defer close(d.done)
	t := time.NewTimer(time.Hour)
	var due []*skb.Buff // reused: no allocation per wake-up
	for {
		d.mu.Lock()
		due = due[:0]
		now := time.Now()
		for d.q.Len() > 0 && (d.stopped || !d.q[0].due.After(now)) {
			due = append(due, d.q.pop().b)
		}
		wait := time.Hour
		if d.q.Len() > 0 {
			wait = d.q[0].due.Sub(now)
		}
		stopped := d.stopped
		d.mu.Unlock()
		for i, b := range due {
			d.deliver(b)
			due[i] = nil
		}
		if stopped {
			return
		}
		t.Reset(wait)
		select {
		case <-t.C:
		case <-d.kick:
			t.Stop()
		}
	}
}

func (d *Direction) stop() {
	d.mu.Lock()
	d.stopped = true
	d.mu.Unlock()
	select {
	case d.kick <- struct{}{}:
	default:
	}
	<-d.done
}

type delayed struct {
	due time.Time
	seq uint64
	b   *skb.Buff
}

// delayQueue is a min-heap by due time, then arrival. It is typed by
// hand rather than through container/heap, whose any-typed Push and Pop
// box every frame's entry: an allocation per delayed frame.
type delayQueue []delayed

func (q delayQueue) Len() int { return len(q) }

func (q delayQueue) less(i, j int) bool {
	if q[i].due.Equal(q[j].due) {
		return q[i].seq < q[j].seq
	}
	return q[i].due.Before(q[j].due)
}

func (q *delayQueue) push(x delayed) {
	*q = append(*q, x)
	h := *q
	for i := len(h) - 1; i > 0; {
		parent := (i - 1) / 2
		if !h.less(i, parent) {
			break
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
}

// pop takes the earliest entry; the queue must not be empty.
func (q *delayQueue) pop() delayed {
	h := *q
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h[last] = delayed{}
	h = h[:last]
	for i := 0; ; {
		first, l, r := i, 2*i+1, 2*i+2
		if l < len(h) && h.less(l, first) {
			first = l
		}
		if r < len(h) && h.less(r, first) {
			first = r
		}
		if first == i {
			break
		}
		h[i], h[first] = h[first], h[i]
		i = first
	}
	*q = h
	return top
}
