package main

// The scheduler without a kernel: packets go in through onPacket on a clock
// the test sets, and come out through takeDue, as the releaser takes them.

import (
	"encoding/binary"
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
