// Command gomel-delayer is a userspace packet delayer on Linux NFQUEUE, for
// delay/jitter experiments on kernels without sch_netem.
//
//	gomel-delayer --queue NUM:delay=50ms[,jitter=5ms][,reorder] [--queue ...]
//	              [--max-queued 10000] [--stats /path/file] [--stats-every 2s]
//
// Each --queue binds one NFQUEUE number with its own delay; the caller steers
// a destination class into it, in the sending network namespace:
//
//	iptables -A OUTPUT -d <peer> -j NFQUEUE --queue-num NUM --queue-bypass
//
// Every packet is held for delay + U(-jitter, +jitter) (uniform, clamped at
// zero), and by default never released before the previous packet of its
// flow (queue + src/dst + protocol + TCP/UDP ports); `reorder` lifts that.
// At most --max-queued packets are held in total; beyond that new packets
// get NF_DROP and are counted. On SIGTERM/SIGINT everything still held is
// accepted at once, stats are written, and the process exits 0.
//
// Needs CAP_NET_ADMIN in the network namespace it runs in. Standard library
// only (raw netlink via package syscall), builds with Go >= 1.13, no cgo.
package main

import (
	"flag"
	"fmt"
	"io/ioutil"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	// copyRange: bytes of each packet copied to us. 60 (max IPv4 header)
	// + 4 (ports) = 64; also covers the fixed IPv6 header + ports.
	copyRange = 64
	// kernelSlack: the kernel queue limit is --max-queued plus this, so
	// the userspace bound (which we count as dropped_full) normally acts
	// first; the kernel counts packets still in our socket buffer too.
	kernelSlack = 1024
	rcvBuf      = 16 << 20
	queueUsage  = "NUM:delay=50ms[,jitter=5ms][,reorder]"
)

// queueFlags collects repeated --queue values.
type queueFlags []queueCfg

func (q *queueFlags) String() string { return "" }

func (q *queueFlags) Set(v string) error {
	c, err := parseQueue(v)
	if err != nil {
		return err
	}
	for _, o := range *q {
		if o.num == c.num {
			return fmt.Errorf("queue %d given twice; use one --queue per queue number", c.num)
		}
	}
	*q = append(*q, c)
	return nil
}

func parseQueue(v string) (queueCfg, error) {
	var c queueCfg
	parts := strings.SplitN(v, ":", 2)
	n, err := strconv.ParseUint(parts[0], 10, 16)
	if err != nil {
		return c, fmt.Errorf("queue number %q is not 0..65535; want %s", parts[0], queueUsage)
	}
	c.num = uint16(n)
	if len(parts) != 2 || parts[1] == "" {
		return c, fmt.Errorf("missing delay; want %s", queueUsage)
	}
	haveDelay := false
	for _, opt := range strings.Split(parts[1], ",") {
		kv := strings.SplitN(opt, "=", 2)
		switch {
		case kv[0] == "reorder" && len(kv) == 1:
			c.reorder = true
		case (kv[0] == "delay" || kv[0] == "jitter") && len(kv) == 2:
			d, err := time.ParseDuration(kv[1])
			if err != nil || d < 0 {
				return c, fmt.Errorf("%s=%q is not a non-negative duration like 50ms; want %s", kv[0], kv[1], queueUsage)
			}
			if kv[0] == "delay" {
				c.delay = d
				haveDelay = true
			} else {
				c.jitter = d
			}
		default:
			return c, fmt.Errorf("unknown option %q; want %s", opt, queueUsage)
		}
	}
	if !haveDelay {
		return c, fmt.Errorf("missing delay=; want %s", queueUsage)
	}
	return c, nil
}

func usage() {
	fmt.Fprintf(os.Stdout, `usage: gomel-delayer --queue %s [--queue ...]
                     [--max-queued 10000] [--stats FILE] [--stats-every 2s]

  --queue        bind an NFQUEUE number with its delay; jitter is uniform in
                 [-jitter,+jitter]; 'reorder' allows packets of one flow to
                 overtake each other (default: per-flow order is kept)
  --max-queued   packets held at most (all queues); more are dropped
  --stats        write key=value stats here (atomically, tmp + rename)
  --stats-every  stats interval (also written on SIGTERM/SIGINT)

Steer traffic with: iptables -A OUTPUT -d PEER -j NFQUEUE --queue-num NUM --queue-bypass
Needs CAP_NET_ADMIN.
`, queueUsage)
}

func die(code int, format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "gomel-delayer: "+format+"\n", a...)
	os.Exit(code)
}

func main() {
	var queues queueFlags
	fs := flag.NewFlagSet("gomel-delayer", flag.ContinueOnError)
	fs.SetOutput(ioutil.Discard) // we print our own one-line errors
	fs.Var(&queues, "queue", "")
	maxQueued := fs.Int("max-queued", 10000, "")
	statsPath := fs.String("stats", "", "")
	statsEvery := fs.Duration("stats-every", 2*time.Second, "")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if err == flag.ErrHelp {
			usage()
			os.Exit(0)
		}
		die(2, "%v (see --help)", err)
	}
	switch {
	case fs.NArg() > 0:
		die(2, "unexpected argument %q; all options are flags, e.g. --queue %s", fs.Arg(0), queueUsage)
	case len(queues) == 0:
		die(2, "no --queue given; add at least one --queue %s", queueUsage)
	case *maxQueued < 1:
		die(2, "--max-queued %d must be >= 1, e.g. --max-queued 10000", *maxQueued)
	case *statsEvery <= 0:
		die(2, "--stats-every %v must be > 0, e.g. --stats-every 2s", *statsEvery)
	}
	sort.SliceStable(queues, func(i, j int) bool { return queues[i].num < queues[j].num })

	s := newSched(queues, *maxQueued)
	sock, err := openNfq(rcvBuf)
	if err != nil {
		die(1, "%v (needs CAP_NET_ADMIN and nfnetlink_queue)", err)
	}
	s.sock = sock

	// Signals first, so a SIGTERM during setup still flushes.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)

	// The releaser must run before binding: packets can arrive as soon as
	// the first queue is bound.
	go s.run()

	out := make([]byte, 0, verdictMsgLen)
	handle := func(queue uint16, id uint32, payload []byte) {
		out = s.onPacket(queue, id, payload, out[:0])
		if len(out) > 0 {
			if err := sock.send(out); err != nil {
				s.mu.Lock()
				s.sendErrors++
				s.mu.Unlock()
			}
		}
	}
	onErr := func(errno int32, seq uint32) {
		if errno != 0 { // a failed verdict (e.g. ENOENT: id unknown)
			s.mu.Lock()
			s.netlinkErrors++
			s.lastNetlinkErr = errno
			s.mu.Unlock()
		}
	}

	for _, q := range queues {
		gso, err := sock.bindQueue(q.num, copyRange, uint32(*maxQueued+kernelSlack), handle)
		if err != nil {
			s.flushAll()
			die(1, "%v", err)
		}
		fmt.Fprintf(os.Stderr, "gomel-delayer: queue %d bound: delay=%v jitter=%v reorder=%v gso=%v\n",
			q.num, q.delay, q.jitter, q.reorder, gso)
	}

	dump := func() {
		if *statsPath == "" {
			return
		}
		if err := writeStats(*statsPath, s.statsText()); err != nil {
			fmt.Fprintf(os.Stderr, "gomel-delayer: writing stats: %v\n", err)
		}
	}
	// The stats file appears once every queue is bound: the node's network
	// script waits for it before it adds the NFQUEUE rules.
	dump()
	go func() {
		t := time.NewTicker(*statsEvery)
		for range t.C {
			dump()
		}
	}()
	go func() {
		sig := <-sigs
		s.flushAll()
		dump()
		if *statsPath == "" {
			os.Stderr.Write(s.statsText())
		}
		fmt.Fprintf(os.Stderr, "gomel-delayer: %v: released all held packets, exiting\n", sig)
		os.Exit(0)
	}()

	// Reader: one NFQNL_MSG_PACKET per datagram in practice, but parse
	// generally. Blocking recvfrom keeps one OS thread; that's fine.
	buf := make([]byte, 1<<16)
	for {
		n, err := syscall.Read(sock.fd, buf) // no per-call sockaddr allocation
		if err != nil || n < 0 {
			if err == syscall.EINTR || err == syscall.ENOBUFS {
				continue
			}
			s.flushAll()
			dump()
			die(1, "recvfrom netlink: %v", err)
		}
		parseMessages(buf[:n], handle, onErr)
	}
}
