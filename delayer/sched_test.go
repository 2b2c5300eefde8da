package main

// The scheduler without a kernel: packets go in through onPacket on a clock
// the test sets, and come out through takeDue, as the releaser takes them.

import (
	"encoding/binary"
	"math"
	"math/rand"
	"testing"
	"time"
)

// testSched is a scheduler of one queue on a clock at 0 that the test moves,
// with a fixed random seed.
func testSched(cfg queueCfg, maxQueued int) (*sched, *int64) {
	s := newSched([]queueCfg{cfg}, maxQueued)
	var now int64
	s.now = func() int64 { return now }
	s.rng = rand.New(rand.NewSource(1))
	return s, &now
}

// udp4 is the start of an IPv4/UDP packet from 10.0.0.<src>:<sport> to 10.0.0.2:9000,
// as the kernel copies it to us (copyRange).
func udp4(src byte, sport uint16) []byte {
	b := make([]byte, 28)
	b[0] = 0x45 // IPv4, 20-byte header
	b[9] = 17   // UDP
	copy(b[12:16], []byte{10, 0, 0, src})
	copy(b[16:20], []byte{10, 0, 0, 2})
	binary.BigEndian.PutUint16(b[20:22], sport)
	binary.BigEndian.PutUint16(b[22:24], 9000)
	return b
}

// verdicts reads back the (verdict, id) of each message appendVerdict wrote.
func verdicts(b []byte) [][2]uint32 {
	var v [][2]uint32
	for ; len(b) >= verdictMsgLen; b = b[verdictMsgLen:] {
		v = append(v, [2]uint32{binary.BigEndian.Uint32(b[24:28]), binary.BigEndian.Uint32(b[28:32])})
	}
	return v
}

// releaseAll takes every packet due at now, batch after batch, as run does.
func releaseAll(s *sched, now int64) []heldPkt {
	var out []heldPkt
	for {
		s.mu.Lock()
		due := s.takeDue(now, nil)
		s.mu.Unlock()
		if len(due) == 0 {
			return out
		}
		out = append(out, due...)
	}
}

func TestHeldBoundDropsAndCounts(t *testing.T) {
	// main's default for --max-queued.
	const bound = 10000
	s, now := testSched(queueCfg{num: 3, delay: 50 * time.Millisecond}, bound)
	var dropped []uint32
	for id := uint32(0); id < bound+5; id++ {
		*now = int64(id) * 1000
		for _, v := range verdicts(s.onPacket(3, id, udp4(byte(1+id%7), 5000), nil)) {
			if v[0] != nfDrop {
				t.Fatalf("packet %d: verdict %d at once, want NF_DROP (%d) or none", id, v[0], nfDrop)
			}
			dropped = append(dropped, v[1])
		}
	}
	if want := []uint32{bound, bound + 1, bound + 2, bound + 3, bound + 4}; !equalIDs(dropped, want) {
		t.Fatalf("dropped %v, want the 5 past the bound %v", dropped, want)
	}
	qs := s.queues[3]
	if s.droppedFull != 5 || qs.droppedFull != 5 || s.packets != bound+5 || len(s.h) != bound || s.maxHeld != bound {
		t.Fatalf("droppedFull %d (queue %d), packets %d, held %d, maxHeld %d; want 5, 5, %d, %d, %d",
			s.droppedFull, qs.droppedFull, s.packets, len(s.h), s.maxHeld, bound+5, bound, bound)
	}
	// Room again once packets are out: the next one is held, not dropped.
	if got := len(releaseAll(s, int64(time.Second))); got != bound {
		t.Fatalf("released %d, want %d", got, bound)
	}
	if v := verdicts(s.onPacket(3, 99999, udp4(1, 5000), nil)); len(v) != 0 || len(s.h) != 1 {
		t.Fatalf("after the release a packet got %v and %d are held; want it held", v, len(s.h))
	}
}

func equalIDs(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestOrderKeptPerFlow(t *testing.T) {
	// Jitter far above the gap between packets: without the per-flow bound
	// most packets would overtake their predecessor.
	s, now := testSched(queueCfg{num: 0, delay: 50 * time.Millisecond, jitter: 20 * time.Millisecond}, 10000)
	const flows, packets = 4, 2000
	for id := uint32(0); id < packets; id++ {
		*now = int64(id) * int64(10*time.Microsecond)
		s.onPacket(0, id, udp4(1, uint16(5000+id%flows)), nil)
	}
	// Released as the releaser would, a millisecond at a time.
	var order []heldPkt
	for at := int64(0); len(order) < packets; at += int64(time.Millisecond) {
		if at > int64(time.Second) {
			t.Fatalf("after 1 s only %d of %d packets were released", len(order), packets)
		}
		order = append(order, releaseAll(s, at)...)
	}
	last := map[uint16]int64{}
	for _, p := range order {
		if prev, ok := last[p.key.sport]; ok && int64(p.id) < prev {
			t.Fatalf("flow %d: packet %d released after packet %d", p.key.sport, p.id, prev)
		}
		last[p.key.sport] = int64(p.id)
	}
	if len(s.flows) != 0 {
		t.Fatalf("%d flows remembered after every packet left, want 0", len(s.flows))
	}
}

func TestHugeDelayOrJitterHoldsInsteadOfWrapping(t *testing.T) {
	// The largest delay --queue accepts (time.ParseDuration's bound).
	longest, err := time.ParseDuration("2562047h47m16.854775807s")
	if err != nil || longest != math.MaxInt64 {
		t.Fatalf("ParseDuration: %v %v", longest, err)
	}
	const year = int64(365 * 24 * time.Hour)
	for _, c := range []queueCfg{
		{delay: longest},
		{delay: longest, jitter: longest / 2},
		{delay: longest, jitter: longest},
		{delay: time.Hour, jitter: longest / 2},
	} {
		s, now := testSched(c, 10000)
		*now = int64(time.Second)
		for id := uint32(0); id < 100; id++ {
			if v := verdicts(s.onPacket(0, id, udp4(1, uint16(id)), nil)); len(v) != 0 {
				t.Fatalf("delay %v jitter %v: packet %d got verdict %v at once", c.delay, c.jitter, id, v)
			}
		}
		due := releaseAll(s, *now+100*year)
		if c.jitter < c.delay && len(due) != 0 {
			t.Fatalf("delay %v jitter %v: %d of 100 packets released within 100 years", c.delay, c.jitter, len(due))
		}
		for _, p := range due {
			if p.release < p.arrival {
				t.Fatalf("delay %v jitter %v: packet %d released at %d, before its arrival %d", c.delay, c.jitter, p.id, p.release, p.arrival)
			}
		}
		if left := len(s.h) + len(due); left != 100 {
			t.Fatalf("delay %v jitter %v: %d packets held or released, want 100", c.delay, c.jitter, left)
		}
	}
}
