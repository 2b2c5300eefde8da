// Command floodtool is the traffic generator used by ../netns-check.sh to
// measure the delayer. Standard library only.
//
//	floodtool udprecv ADDR IDLE          count UDP packets until IDLE without any
//	                                     (after the first); print pps and one-way
//	                                     latency (sender timestamp in payload)
//	floodtool udpsend ADDR RATE SECONDS  send 64-byte UDP packets at RATE pkt/s
//	                                     (0 = as fast as possible)
//	floodtool tcprecv ADDR [MAXSECS]     accept one TCP connection, drain it (at most
//	                                     MAXSECS), print MB/s
//	floodtool tcpsend ADDR MBYTES        send MBYTES over TCP
package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"io/ioutil"
	"net"
	"os"
	"sort"
	"strconv"
	"syscall"
	"time"
)

func die(err error) {
	fmt.Fprintln(os.Stderr, "floodtool:", err)
	os.Exit(1)
}

// forceBuf raises a socket buffer past net.core.[rw]mem_max (root only).
// Needed on the sender: packets held in NFQUEUE stay charged to the
// sending socket, so a default 208 KiB sndbuf caps in-flight packets at a
// few hundred and would throttle the sender, not the delayer.
func forceBuf(c syscall.Conn, opt int, n int) {
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, opt, n)
	})
}

func main() {
	if len(os.Args) < 3 {
		die(fmt.Errorf("usage: floodtool udprecv|udpsend|tcprecv|tcpsend ADDR ..."))
	}
	switch os.Args[1] {
	case "udprecv":
		idle, _ := time.ParseDuration(os.Args[3])
		udpRecv(os.Args[2], idle)
	case "udpsend":
		rate, _ := strconv.Atoi(os.Args[3])
		secs, _ := strconv.ParseFloat(os.Args[4], 64)
		udpSend(os.Args[2], rate, time.Duration(secs*float64(time.Second)))
	case "tcprecv":
		secs := 3600.0
		if len(os.Args) > 3 {
			secs, _ = strconv.ParseFloat(os.Args[3], 64)
		}
		tcpRecv(os.Args[2], time.Duration(secs*float64(time.Second)))
	case "tcpsend":
		mb, _ := strconv.Atoi(os.Args[3])
		tcpSend(os.Args[2], mb)
	default:
		die(fmt.Errorf("unknown mode %q", os.Args[1]))
	}
}

func udpRecv(addr string, idle time.Duration) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		die(err)
	}
	c, err := net.ListenUDP("udp", ua)
	if err != nil {
		die(err)
	}
	forceBuf(c, syscall.SO_RCVBUFFORCE, 32<<20)
	fmt.Println("ready")
	buf := make([]byte, 2048)
	var n int
	var first, last time.Time
	lat := make([]int64, 0, 1<<20)
	var maxSeq, reorders uint64
	c.SetReadDeadline(time.Now().Add(60 * time.Second)) // wait for the first
	for {
		m, _, err := c.ReadFromUDP(buf)
		if err != nil {
			break // deadline: idle
		}
		now := time.Now()
		if n == 0 {
			first = now
		}
		last = now
		n++
		if m >= 16 {
			seq := binary.BigEndian.Uint64(buf[0:8])
			sent := int64(binary.BigEndian.Uint64(buf[8:16]))
			if seq < maxSeq {
				reorders++
			} else {
				maxSeq = seq
			}
			lat = append(lat, now.UnixNano()-sent)
		}
		c.SetReadDeadline(now.Add(idle))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return -1
		}
		return float64(lat[int(p*float64(len(lat)-1))]) / 1e6
	}
	span := last.Sub(first).Seconds()
	pps := 0.0
	if span > 0 {
		pps = float64(n) / span
	}
	fmt.Printf("received=%d span_s=%.3f pps=%.0f lat_p50_ms=%.3f lat_p99_ms=%.3f lat_max_ms=%.3f reordered=%d\n",
		n, span, pps, pct(0.5), pct(0.99), pct(1), reorders)
}

func udpSend(addr string, rate int, dur time.Duration) {
	c, err := net.Dial("udp", addr)
	if err != nil {
		die(err)
	}
	forceBuf(c.(*net.UDPConn), syscall.SO_SNDBUFFORCE, 64<<20)
	buf := make([]byte, 64)
	start := time.Now()
	var sent, errs uint64
	for {
		el := time.Since(start)
		if el >= dur {
			break
		}
		due := uint64(el.Seconds() * float64(rate))
		if rate == 0 {
			due = sent + 64
		}
		for sent < due {
			binary.BigEndian.PutUint64(buf[0:8], sent)
			binary.BigEndian.PutUint64(buf[8:16], uint64(time.Now().UnixNano()))
			if _, err := c.Write(buf); err != nil {
				errs++ // e.g. EPERM when the kernel queue drops the packet
			}
			sent++
		}
		if rate > 0 {
			time.Sleep(200 * time.Microsecond)
		}
	}
	el := time.Since(start).Seconds()
	fmt.Printf("sent=%d send_errors=%d secs=%.3f rate=%.0f\n", sent, errs, el, float64(sent)/el)
}

func tcpRecv(addr string, max time.Duration) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		die(err)
	}
	fmt.Println("ready")
	c, err := l.Accept()
	if err != nil {
		die(err)
	}
	start := time.Now()
	c.SetDeadline(start.Add(max)) // stop measuring after max
	n, _ := io.Copy(ioutil.Discard, c)
	el := time.Since(start).Seconds()
	fmt.Printf("tcp_bytes=%d secs=%.3f MBps=%.2f\n", n, el, float64(n)/el/1e6)
}

func tcpSend(addr string, mb int) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		die(err)
	}
	buf := make([]byte, 64<<10)
	for i := 0; i < mb*16; i++ {
		if _, err := c.Write(buf); err != nil {
			die(err)
		}
	}
	c.Close()
}
