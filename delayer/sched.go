package main

// The timed queue: every packet the kernel hands us is parked in a min-heap
// keyed by its release time; one goroutine sleeps until the earliest release
// and then issues NF_ACCEPT verdicts for everything that is due, batched into
// one write(). NFQUEUE accepts verdicts in any id order, so packets of
// different flows (or of a `reorder` queue) can overtake each other.

import (
	"math"
	"math/rand"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// histBuckets is the range of the hold-error histogram at 1 µs resolution;
// larger errors go to an overflow counter (and errMax).
const histBuckets = 1 << 16 // 65.5 ms

// maxBatch bounds one verdict datagram (32 bytes each) well below the
// default netlink sndbuf (~208 KiB).
const maxBatch = 1024

// fineWindow/fineStep: see the precise-wait comment in run.
const (
	fineWindow = 2 * time.Millisecond
	fineStep   = 250 * time.Microsecond

	prSetTimerslack = 29 // PR_SET_TIMERSLACK (linux/prctl.h), in ns
)

type queueCfg struct {
	num     uint16
	delay   time.Duration
	jitter  time.Duration
	reorder bool
}

type queueState struct {
	cfg         queueCfg
	packets     uint64 // handed to us by the kernel
	released    uint64 // NF_ACCEPT after the delay (incl. flushed)
	flushed     uint64 // released early at shutdown
	droppedFull uint64 // NF_DROP because --max-queued was reached
	held        int
	maxHeld     int
	hist        []uint32 // (actual hold - planned hold) in µs
	histOver    uint64
	histN       uint64
	errMax      int64 // µs
}

// flowKey identifies a flow for in-order release: queue + addresses +
// protocol + ports (TCP/UDP only, first fragment only).
type flowKey struct {
	queue        uint16
	proto        uint8
	src, dst     [16]byte
	sport, dport uint16
}

type heldPkt struct {
	release int64  // monotonic ns at which to accept
	arrival int64  // monotonic ns when we read it from the socket
	seq     uint64 // arrival order: among equal releases, the earlier arrival goes first
	id      uint32
	q       *queueState
	key     flowKey
}

type sched struct {
	mu        sync.Mutex
	h         []heldPkt // binary min-heap on release
	flows     map[flowKey]int64
	rng       *rand.Rand
	queues    map[uint16]*queueState
	order     []*queueState // in command-line order, for stats
	maxQueued int
	closing   bool
	wake      chan struct{}
	sock      *nfqSock
	// now is the clock, monotonic ns: mono, or a test's own.
	now func() int64

	arrivals                                uint64 // packets held so far, for heldPkt.seq
	packets, released, flushed, droppedFull uint64
	maxHeld                                 int
	netlinkErrors                           uint64
	lastNetlinkErr                          int32
	sendErrors                              uint64
	unknownQueue                            uint64
}

var t0 = time.Now()

// mono returns monotonic nanoseconds since start (time.Since uses the
// monotonic clock reading, immune to wall-clock steps).
func mono() int64 { return int64(time.Since(t0)) }

func newSched(cfgs []queueCfg, maxQueued int) *sched {
	s := &sched{
		flows:     make(map[flowKey]int64),
		rng:       rand.New(rand.NewSource(time.Now().UnixNano())),
		queues:    make(map[uint16]*queueState),
		maxQueued: maxQueued,
		wake:      make(chan struct{}, 1),
		now:       mono,
	}
	for _, c := range cfgs {
		qs := &queueState{cfg: c, hist: make([]uint32, histBuckets)}
		s.queues[c.num] = qs
		s.order = append(s.order, qs)
	}
	return s
}

// ---- heap (hand-written to avoid interface boxing per packet) ----

// before orders the heap: by release, then by arrival. A packet held back
// to its flow's previous release shares that release, and a heap does not
// keep the order of equal keys: without the arrival it could go out first.
func before(a, b *heldPkt) bool {
	return a.release < b.release || (a.release == b.release && a.seq < b.seq)
}

func (s *sched) push(p heldPkt) {
	s.h = append(s.h, p)
	i := len(s.h) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if !before(&s.h[i], &s.h[parent]) {
			break
		}
		s.h[parent], s.h[i] = s.h[i], s.h[parent]
		i = parent
	}
}

func (s *sched) pop() heldPkt {
	top := s.h[0]
	n := len(s.h) - 1
	s.h[0] = s.h[n]
	s.h = s.h[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && before(&s.h[r], &s.h[l]) {
			m = r
		}
		if !before(&s.h[m], &s.h[i]) {
			break
		}
		s.h[i], s.h[m] = s.h[m], s.h[i]
		i = m
	}
	return top
}

// jitterNS draws uniformly from [-jitter, +jitter] (uniform, not normal:
// bounded, and its spread is easy to predict: stdev = jitter/sqrt(3)).
func (s *sched) jitterNS(j time.Duration) int64 {
	if j <= 0 {
		return 0
	}
	if j <= (math.MaxInt64-1)/2 {
		return s.rng.Int63n(2*int64(j)+1) - int64(j)
	}
	// Past 2^62 ns (146 years) 2j+1 wraps as an int64 and Int63n panics;
	// as a uint64 it fits (the modulo's bias is nil at any real jitter).
	return int64(s.rng.Uint64()%(2*uint64(j)+1) - uint64(j))
}

// addSat is a+b held at the int64 bounds. A delay near the largest
// Duration --queue accepts (2562047h) plus jitter or plus the arrival time
// would wrap to a release in the past, and the packet would go at once.
func addSat(a, b int64) int64 {
	c := a + b
	switch {
	case b > 0 && c < a:
		return math.MaxInt64
	case b < 0 && c > a:
		return math.MinInt64
	}
	return c
}

// onPacket is called by the reader for every NFQNL_MSG_PACKET. Verdicts
// that must go out immediately (drop when full, accept when closing) are
// appended to out and sent by the caller outside the lock.
func (s *sched) onPacket(queue uint16, id uint32, payload []byte, out []byte) []byte {
	now := s.now()
	s.mu.Lock()
	qs := s.queues[queue]
	if qs == nil {
		// Cannot happen: we only bind our queues. Do not strand the packet.
		s.unknownQueue++
		s.mu.Unlock()
		return appendVerdict(out, queue, id, nfAccept)
	}
	qs.packets++
	s.packets++
	if s.closing {
		qs.released++
		qs.flushed++
		s.released++
		s.flushed++
		s.mu.Unlock()
		return appendVerdict(out, queue, id, nfAccept)
	}
	if len(s.h) >= s.maxQueued {
		qs.droppedFull++
		s.droppedFull++
		s.mu.Unlock()
		return appendVerdict(out, queue, id, nfDrop)
	}
	hold := addSat(int64(qs.cfg.delay), s.jitterNS(qs.cfg.jitter))
	if hold < 0 {
		hold = 0 // jitter larger than delay: never deliver before arrival
	}
	s.arrivals++
	p := heldPkt{release: addSat(now, hold), arrival: now, seq: s.arrivals, id: id, q: qs}
	if !qs.cfg.reorder {
		// Keep per-flow order: never release before the previous packet
		// of the same flow. (netem with jitter reorders packets, which
		// makes TCP see spurious loss; real paths rarely do that.)
		p.key = makeFlowKey(queue, payload)
		if last, ok := s.flows[p.key]; ok && last > p.release {
			p.release = last
		}
		s.flows[p.key] = p.release
	}
	wasEmptyOrLater := len(s.h) == 0 || p.release < s.h[0].release
	s.push(p)
	qs.held++
	if qs.held > qs.maxHeld {
		qs.maxHeld = qs.held
	}
	if len(s.h) > s.maxHeld {
		s.maxHeld = len(s.h)
	}
	s.mu.Unlock()
	if wasEmptyOrLater {
		select { // new earliest deadline: re-arm the releaser's timer
		case s.wake <- struct{}{}:
		default:
		}
	}
	return out
}

// makeFlowKey parses just enough of the IPv4/IPv6 header (we asked for a
// 64-byte copy range) to identify the flow.
func makeFlowKey(queue uint16, b []byte) flowKey {
	k := flowKey{queue: queue}
	if len(b) < 1 {
		return k
	}
	var l4 []byte
	switch b[0] >> 4 {
	case 4:
		if len(b) < 20 {
			return k
		}
		ihl := int(b[0]&0x0f) * 4
		k.proto = b[9]
		copy(k.src[:4], b[12:16])
		copy(k.dst[:4], b[16:20])
		fragOff := (uint16(b[6])<<8 | uint16(b[7])) & 0x1fff
		if fragOff == 0 && ihl >= 20 && len(b) >= ihl+4 {
			l4 = b[ihl:]
		}
	case 6:
		if len(b) < 40 {
			return k
		}
		k.proto = b[6] // next header; extension headers are not followed
		copy(k.src[:], b[8:24])
		copy(k.dst[:], b[24:40])
		if len(b) >= 44 {
			l4 = b[40:]
		}
	default:
		return k
	}
	if l4 != nil && (k.proto == 6 || k.proto == 17) {
		k.sport = uint16(l4[0])<<8 | uint16(l4[1])
		k.dport = uint16(l4[2])<<8 | uint16(l4[3])
	}
	return k
}

type released struct {
	arrival, planned int64
	q                *queueState
}

// run is the single releaser goroutine.
func (s *sched) run() {
	// Pin this goroutine to one OS thread and shrink that thread's timer
	// slack (default 50 µs) so the fine nanosleep wakes on time.
	runtime.LockOSThread()
	syscall.Syscall(syscall.SYS_PRCTL, prSetTimerslack, 1000, 0) // best effort
	timer := time.NewTimer(time.Hour)
	buf := make([]byte, 0, maxBatch*verdictMsgLen)
	done := make([]released, 0, maxBatch)
	due := make([]heldPkt, 0, maxBatch)
	for {
		buf = buf[:0]
		done = done[:0]
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			return
		}
		now := s.now()
		due = s.takeDue(now, due[:0])
		for _, p := range due {
			buf = appendVerdict(buf, p.q.cfg.num, p.id, nfAccept)
			done = append(done, released{arrival: p.arrival, planned: p.release - p.arrival, q: p.q})
		}
		var wait int64 = -1
		if len(s.h) > 0 {
			wait = s.h[0].release - now
		}
		s.mu.Unlock()

		if len(done) > 0 {
			err := s.sock.send(buf)
			t := s.now()
			s.mu.Lock()
			if err != nil {
				s.sendErrors++
			}
			for _, r := range done {
				r.q.held--
				r.q.released++
				s.released++
				s.recordErr(r.q, (t-r.arrival)-r.planned)
			}
			s.mu.Unlock()
			// More may be due (full batch, or time passed while sending):
			// recompute instead of sleeping on a stale deadline.
			continue
		}

		if wait >= 0 && wait <= int64(fineWindow) {
			// Close to the deadline: Go timers sleep in epoll with
			// millisecond resolution (up to ~1 ms late), so finish with
			// nanosleep (an hrtimer, ~50 µs slack) in short steps,
			// re-checking the heap after each in case an earlier packet
			// arrived meanwhile.
			step := wait
			if step > int64(fineStep) {
				step = int64(fineStep)
			}
			ts := syscall.NsecToTimespec(step)
			syscall.Nanosleep(&ts, nil)
			continue
		}
		d := time.Hour
		if wait >= 0 {
			d = time.Duration(wait) - fineWindow // wake early, then fine-sleep
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(d)
		select {
		case <-timer.C:
		case <-s.wake:
		}
	}
}

// takeDue appends to into the packets due at now, at most maxBatch, in
// release order, and forgets each flow whose last packet is among them.
// The caller holds s.mu.
func (s *sched) takeDue(now int64, into []heldPkt) []heldPkt {
	for len(s.h) > 0 && s.h[0].release <= now && len(into) < maxBatch {
		p := s.pop()
		if !p.q.cfg.reorder {
			// Forget the flow once its last scheduled packet is out:
			// any later arrival is at >= now >= this release anyway.
			if last, ok := s.flows[p.key]; ok && last <= p.release {
				delete(s.flows, p.key)
			}
		}
		into = append(into, p)
	}
	return into
}

func (s *sched) recordErr(q *queueState, errNS int64) {
	us := errNS / 1000
	if us < 0 {
		us = 0 // cannot happen (we never release early); be safe
	}
	q.histN++
	if us > q.errMax {
		q.errMax = us
	}
	if us >= histBuckets {
		q.histOver++
		return
	}
	q.hist[us]++
}

// percentile returns the p-quantile (0..1) of q's error histogram in µs.
func (q *queueState) percentile(p float64) int64 {
	if q.histN == 0 {
		return -1
	}
	rank := uint64(p*float64(q.histN-1)) + 1
	var c uint64
	for i, n := range q.hist {
		c += uint64(n)
		if c >= rank {
			return int64(i)
		}
	}
	return q.errMax // in the overflow bucket
}

// flushAll is the shutdown path: stop the releaser, accept everything still
// held right now, and make the reader accept new packets at once.
func (s *sched) flushAll() {
	s.mu.Lock()
	s.closing = true
	var all []heldPkt
	for len(s.h) > 0 {
		all = append(all, s.pop())
	}
	for _, p := range all {
		p.q.held--
		p.q.released++
		p.q.flushed++
		s.released++
		s.flushed++
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	buf := make([]byte, 0, maxBatch*verdictMsgLen)
	for i, p := range all {
		buf = appendVerdict(buf, p.q.cfg.num, p.id, nfAccept)
		if len(buf) == cap(buf) || i == len(all)-1 {
			if err := s.sock.send(buf); err != nil {
				s.mu.Lock()
				s.sendErrors++
				s.mu.Unlock()
			}
			buf = buf[:0]
		}
	}
}
