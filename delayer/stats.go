package main

import (
	"bytes"
	"fmt"
	"io/ioutil"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// kernelDrops reads /proc/net/netfilter/nfnetlink_queue (per network
// namespace: it shows the queues of the namespace we run in). Columns:
//
//	queue_number peer_portid queue_total copy_mode copy_range
//	queue_dropped user_dropped id_sequence 1
//
// queue_dropped: the kernel queue was at NFQA_CFG_QUEUE_MAXLEN;
// user_dropped: the netlink socket receive buffer was full.
type kdrop struct{ queueDropped, userDropped, total uint64 }

func kernelDrops() (map[uint16]kdrop, bool) {
	b, err := ioutil.ReadFile("/proc/net/netfilter/nfnetlink_queue")
	if err != nil {
		return nil, false
	}
	m := make(map[uint16]kdrop)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 7 {
			continue
		}
		q, e1 := strconv.ParseUint(f[0], 10, 16)
		tot, e2 := strconv.ParseUint(f[2], 10, 64)
		qd, e3 := strconv.ParseUint(f[5], 10, 64)
		ud, e4 := strconv.ParseUint(f[6], 10, 64)
		if e1 != nil || e2 != nil || e3 != nil || e4 != nil {
			continue
		}
		m[uint16(q)] = kdrop{queueDropped: qd, userDropped: ud, total: tot}
	}
	return m, true
}

// statsText renders the key=value stats (takes s.mu itself).
func (s *sched) statsText() []byte {
	kd, kok := kernelDrops()
	var b bytes.Buffer
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(&b, "time_unix=%d\n", time.Now().Unix())
	fmt.Fprintf(&b, "uptime_s=%.3f\n", time.Since(t0).Seconds())
	fmt.Fprintf(&b, "packets=%d\n", s.packets)
	fmt.Fprintf(&b, "released=%d\n", s.released)
	fmt.Fprintf(&b, "flushed=%d\n", s.flushed)
	fmt.Fprintf(&b, "dropped_full=%d\n", s.droppedFull)
	var kq, ku uint64
	for _, q := range s.order {
		kq += kd[q.cfg.num].queueDropped
		ku += kd[q.cfg.num].userDropped
	}
	if kok {
		fmt.Fprintf(&b, "kernel_dropped=%d\n", kq+ku)
		fmt.Fprintf(&b, "kernel_queue_dropped=%d\n", kq)
		fmt.Fprintf(&b, "kernel_user_dropped=%d\n", ku)
	} else {
		// -1: /proc/net/netfilter/nfnetlink_queue not readable
		fmt.Fprintf(&b, "kernel_dropped=-1\nkernel_queue_dropped=-1\nkernel_user_dropped=-1\n")
	}
	fmt.Fprintf(&b, "queued=%d\n", len(s.h))
	fmt.Fprintf(&b, "max_queued=%d\n", s.maxHeld)
	fmt.Fprintf(&b, "limit_queued=%d\n", s.maxQueued)
	fmt.Fprintf(&b, "flows_tracked=%d\n", len(s.flows))
	fmt.Fprintf(&b, "netlink_errors=%d\n", s.netlinkErrors)
	if s.netlinkErrors > 0 {
		fmt.Fprintf(&b, "netlink_last_errno=%d\n", s.lastNetlinkErr)
	}
	fmt.Fprintf(&b, "send_errors=%d\n", s.sendErrors)
	var nums []string
	for _, q := range s.order {
		nums = append(nums, strconv.Itoa(int(q.cfg.num)))
	}
	fmt.Fprintf(&b, "queues=%s\n", strings.Join(nums, ","))
	for _, q := range s.order {
		p := fmt.Sprintf("queue.%d.", q.cfg.num)
		fmt.Fprintf(&b, "%sdelay_us=%d\n", p, q.cfg.delay/time.Microsecond)
		fmt.Fprintf(&b, "%sjitter_us=%d\n", p, q.cfg.jitter/time.Microsecond)
		fmt.Fprintf(&b, "%sreorder=%d\n", p, b2i(q.cfg.reorder))
		fmt.Fprintf(&b, "%spackets=%d\n", p, q.packets)
		fmt.Fprintf(&b, "%sreleased=%d\n", p, q.released)
		fmt.Fprintf(&b, "%sflushed=%d\n", p, q.flushed)
		fmt.Fprintf(&b, "%sdropped_full=%d\n", p, q.droppedFull)
		fmt.Fprintf(&b, "%squeued=%d\n", p, q.held)
		fmt.Fprintf(&b, "%smax_queued=%d\n", p, q.maxHeld)
		// error = actual hold (read from socket -> verdict sent) minus
		// planned hold (delay + jitter + in-order wait), microseconds.
		fmt.Fprintf(&b, "%serr_samples=%d\n", p, q.histN)
		fmt.Fprintf(&b, "%serr_p50_us=%d\n", p, q.percentile(0.50))
		fmt.Fprintf(&b, "%serr_p99_us=%d\n", p, q.percentile(0.99))
		fmt.Fprintf(&b, "%serr_max_us=%d\n", p, q.errMax)
		if kok {
			fmt.Fprintf(&b, "%skernel_queue_dropped=%d\n", p, kd[q.cfg.num].queueDropped)
			fmt.Fprintf(&b, "%skernel_user_dropped=%d\n", p, kd[q.cfg.num].userDropped)
		}
	}
	return b.Bytes()
}

func b2i(v bool) int {
	if v {
		return 1
	}
	return 0
}

// writeStats replaces path atomically: readers never see a partial file.
func writeStats(path string, data []byte) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp"+strconv.Itoa(os.Getpid()))
	if err := ioutil.WriteFile(tmp, data, 0644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
