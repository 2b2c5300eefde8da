// Command gomel-probe is the network side of gomelctl's connectivity probe
// (templates/probe/run.sh, which stands in for gomel to prove a deploy's
// wiring): it answers on a node's committee addresses, and asks every address
// of every node.
//
//	gomel-probe listen <pid> <state-file> <port>...
//	gomel-probe ask <committee.ka> <report> <state-file> <deadline-s>
//
// listen answers every connection on those ports (all interfaces) with one
// line, "gomelctl-probe pid=<pid> state=<the state file's text, or starting>",
// then closes it. It runs until killed.
//
// ask asks every address of the committee (committee.ka's 4th column,
// docs/gomel-formats.md) once; then again those that did not answer as their
// node's pid (after 1 s, then twice as long each round up to N/16 s), until
// <deadline-s> s after that first pass. It appends one line per address to the
// report ("peer P ADDR ok", "peer P ADDR unreachable", "peer P ADDR wrong-node:
// answered '...'"), writes "done" to the state file, then lingers: walks the
// nodes one at a time, asking a node's first address once a second until it
// says state=done, for <deadline-s> s at most (every node's retries end
// <deadline-s> s after its own first pass); having seen every node done, or
// one that says state=finished, it writes "finished". On stdout: progress lines for `up`
// (src/core/logs/live-progress.ts), at most one a second and one at the end
// of each phase. Exit 0 when every address answered, 1 when some did not,
// 2 on bad arguments or files (one line on stderr).
//
// Why a program: the shell probe forked about six processes a question (a
// subshell, timeout and busybox nc to ask; nc -e, a shell and cat to answer):
// 4.7 ms of CPU a question, both sides, where this takes 0.2 ms, mostly the
// kernel's TCP (one node against 256×3 local addresses, 2 cores). A committee
// of N asks 3·N² questions, and 256 shell nodes on one 2-core host reached load
// 200 and 25k of 196k addresses in 220 s. Standard library only, no cgo: a
// static binary in the busybox base image (docker/setup.sh), built by Debian's
// Go 1.19.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	answerPrefix   = "gomelctl-probe pid="
	progressPrefix = "gomelctl-probe-progress"
	// maxAnswer bounds what is read of an answer: a probe's line is ~40 bytes.
	maxAnswer = 4096
	// inFlight: questions at once. The shell asked one at a time: 768 addresses took 7 s
	// on 2 cores (12 to 15 s under load), 64 at a time take 0.2 s; and an unreachable
	// address costs the 2 s connect bound, so 768 of them take 768/64 × 2 s = 24 s, not 25 min.
	inFlight = 64
	// committeeInFlight bounds the questions of the whole committee at once (each node asks
	// inFlightFor(N) at a time): 256 nodes on one 2-core host asking 64 each held 16,384
	// connections open at once, load 180, and the swarm manager on that host failed its own
	// calls (DeadlineExceeded) for minutes; the work is the same, spread over a little more time.
	committeeInFlight = 2048
	// missesToPass: silent questions in a row after which the linger passes a node (linger).
	missesToPass = 3
)

// inFlightFor is one node's questions at once in a committee of n: inFlight up to 32 nodes, then
// fewer, so that the committee's stay near committeeInFlight; at least 4.
func inFlightFor(n int) int {
	if n <= 0 {
		return inFlight
	}
	k := committeeInFlight / n
	if k > inFlight {
		return inFlight
	}
	if k < 4 {
		return 4
	}
	return k
}

// retryMostFor is the longest wait between two rounds of retries in a committee of n: n/16 s, at
// least a second. Each node's retries then ask at most its missed addresses every n/16 s, and the
// committee's at most 16 times the addresses a node missed, each second, whatever n: 256 nodes on
// one 2-core host that had each missed ~38 of their 768 addresses asked ~9,700 a second at one a
// second, keeping the host loaded, and so the questions slow, for as long as they retried.
func retryMostFor(n int) time.Duration {
	if n <= 16 {
		return time.Second
	}
	return time.Duration(n) * time.Second / 16
}

const usage = "usage: gomel-probe listen <pid> <state-file> <port>... | gomel-probe ask <committee.ka> <report> <state-file> <deadline-s>"

func main() {
	// One thread runs the goroutines: a node's questions wait on the network, not on a CPU, and
	// on a host shared by hundreds of nodes a second thread only adds wakeups: with it, an
	// answer cost 100 µs of CPU, without 66 µs (256 listeners, 2 cores).
	runtime.GOMAXPROCS(1)
	code, err := run(os.Args[1:], os.Stdout)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gomel-probe: %v\n", err)
	}
	os.Exit(code)
}

func run(args []string, stdout io.Writer) (int, error) {
	if len(args) > 0 && args[0] == "listen" {
		return 2, listen(args[1:])
	}
	if len(args) > 0 && args[0] == "ask" {
		return ask(args[1:], stdout)
	}
	return 2, errors.New(usage)
}

// listen returns only on an error: a port it cannot listen on, or a listener that failed.
func listen(args []string) error {
	if len(args) < 3 {
		return errors.New(usage)
	}
	pid, stateFile := args[0], args[1]
	var listeners []net.Listener
	for _, port := range args[2:] {
		ln, err := net.Listen("tcp", ":"+port)
		if err != nil {
			return err
		}
		listeners = append(listeners, ln)
	}
	failed := make(chan error)
	for _, ln := range listeners {
		go func(ln net.Listener) { failed <- serve(ln, pid, stateFile, 3*time.Second) }(ln)
	}
	return <-failed
}

// serve answers each connection in a goroutine of its own (one slow asker holds no other),
// until the listener is closed.
func serve(ln net.Listener, pid, stateFile string, timeout time.Duration) error {
	for {
		conn, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return err
		}
		if err != nil {
			// Out of file descriptors under a burst, say: the connections wait in the backlog.
			time.Sleep(50 * time.Millisecond)
			continue
		}
		go answer(conn, pid, stateFile, timeout)
	}
}

func answer(conn net.Conn, pid, stateFile string, timeout time.Duration) {
	defer conn.Close()
	_ = conn.SetWriteDeadline(time.Now().Add(timeout))
	// Then closed at once: the askers send nothing (gomel-probe ask writes nothing, nor did
	// busybox nc </dev/null), so the close is a FIN after the answer, never a reset that could
	// drop it. Waiting for the asker's close as well cost 40% more CPU an answer (measured).
	_, _ = io.WriteString(conn, answerLine(pid, stateFile))
}

// answerLine is what templates/probe/answer.sh printed: the state file is read for every
// question, as the node moves from checking to done; "starting" when it cannot be read.
func answerLine(pid, stateFile string) string {
	state := "starting"
	if text, err := os.ReadFile(stateFile); err == nil {
		state = strings.TrimRight(string(text), "\n") // as $(cat) dropped the trailing newline
	}
	return answerPrefix + pid + " state=" + state + "\n"
}

func ask(args []string, stdout io.Writer) (int, error) {
	if len(args) != 4 {
		return 2, errors.New(usage)
	}
	committeeFile, reportFile, stateFile := args[0], args[1], args[2]
	deadlineS, err := strconv.Atoi(args[3])
	if err != nil || deadlineS < 0 {
		return 2, fmt.Errorf("deadline %q is not a whole number of seconds", args[3])
	}
	text, err := os.ReadFile(committeeFile)
	if err != nil {
		return 2, err
	}
	report, err := os.OpenFile(reportFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return 2, err
	}
	defer report.Close()
	p := newProber(parseCommittee(string(text)), report, stdout)
	deadline := time.Duration(deadlineS) * time.Second
	unreached := p.retry(p.firstPass(), deadline)
	p.noteUnreached(unreached)
	if err := os.WriteFile(stateFile, []byte("done\n"), 0o644); err != nil {
		return 2, err
	}
	if p.linger(deadline) {
		if err := os.WriteFile(stateFile, []byte("finished\n"), 0o644); err != nil {
			return 2, err
		}
	}
	if p.writeErr != nil {
		return 2, fmt.Errorf("report %s: %v", reportFile, p.writeErr)
	}
	if len(unreached) > 0 {
		return 1, nil
	}
	return 0, nil
}

// parseCommittee gives each node's addresses in pid order: line k+1 is pid k, its 4th
// '|'-separated column the addresses, space-separated (docs/gomel-formats.md).
func parseCommittee(text string) [][]string {
	lines := strings.Split(text, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	peers := make([][]string, len(lines))
	for k, line := range lines {
		if columns := strings.Split(line, "|"); len(columns) > 3 {
			peers[k] = strings.Fields(columns[3])
		}
	}
	return peers
}

type prober struct {
	peers [][]string
	// slots holds one token per question in flight.
	slots         chan struct{}
	connect       time.Duration // bounds the connect (busybox nc -w 2 did)
	question      time.Duration // bounds a question as a whole (timeout 3 did): a peer frozen after the handshake
	retryEvery    time.Duration
	retryMost     time.Duration // the longest wait between two rounds of retries: retryMostFor(N)
	sleep         func(time.Duration)
	progressEvery time.Duration
	lookup        func(ctx context.Context, host string) ([]string, error)
	// firstAsked(n): where in the committee's n addresses the first pass begins.
	firstAsked func(n int) int

	mu     sync.Mutex // guards what follows
	report io.Writer
	out    io.Writer
	// resolved: a host's address, as last looked up. Dropped when a question to it fails (a
	// restarted task has a new one; swarm's dnsrr names resolve to tasks): without it, every
	// question, and the linger's one a second a node, would ask Docker's DNS again.
	resolved              map[string]string
	reached, tried, total int
	lastProgress          time.Time
	writeErr              error
}

func newProber(peers [][]string, report, out io.Writer) *prober {
	total := 0
	for _, addresses := range peers {
		total += len(addresses)
	}
	return &prober{
		peers:         peers,
		slots:         make(chan struct{}, inFlightFor(len(peers))),
		connect:       2 * time.Second,
		question:      3 * time.Second,
		retryEvery:    time.Second,
		retryMost:     retryMostFor(len(peers)),
		sleep:         time.Sleep,
		progressEvery: time.Second,
		lookup:        net.DefaultResolver.LookupHost,
		report:        report,
		out:           out,
		resolved:      map[string]string{},
		// Go 1.19's math/rand is seeded with 1 unless told: every node would draw the same peer.
		firstAsked: rand.New(rand.NewSource(time.Now().UnixNano())).Intn,
		total:      total,
	}
}

// askOnce asks one address as peer's once a slot is free, unless `until` has passed by then
// (asked false). answer is the answer's first line ("" if none came); ok that it is peer's.
func (p *prober) askOnce(peer int, address string, until time.Time) (answer string, ok, asked bool) {
	p.slots <- struct{}{}
	defer func() { <-p.slots }()
	if !until.IsZero() && !time.Now().Before(until) {
		return "", false, false
	}
	answer = p.dial(address, time.Now().Add(p.question))
	ok = strings.HasPrefix(answer, answerPrefix+strconv.Itoa(peer)+" ")
	if !ok {
		host, _, _ := net.SplitHostPort(address)
		p.mu.Lock()
		delete(p.resolved, host)
		p.mu.Unlock()
	}
	return answer, ok, true
}

// dial asks address and returns the answer's first line, or what came of it before EOF or
// the deadline: "" when nothing did.
func (p *prober) dial(address string, deadline time.Time) string {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return ""
	}
	if net.ParseIP(host) == nil {
		p.mu.Lock()
		ip, known := p.resolved[host]
		p.mu.Unlock()
		if !known {
			ctx, cancel := context.WithDeadline(context.Background(), deadline)
			ips, err := p.lookup(ctx, host)
			cancel()
			if err != nil || len(ips) == 0 {
				return ""
			}
			ip = ips[0]
			p.mu.Lock()
			p.resolved[host] = ip
			p.mu.Unlock()
		}
		address = net.JoinHostPort(ip, port)
	}
	dialer := net.Dialer{Timeout: p.connect, Deadline: deadline}
	conn, err := dialer.Dial("tcp", address)
	if err != nil {
		return ""
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(deadline)
	line, _ := bufio.NewReaderSize(conn, maxAnswer).ReadSlice('\n')
	return strings.TrimSuffix(string(line), "\n")
}

// note appends a line to the report; with p.mu held.
func (p *prober) note(line string) {
	if _, err := io.WriteString(p.report, line+"\n"); err != nil && p.writeErr == nil {
		p.writeErr = err
	}
}

// progress prints a progress line unless one went out less than progressEvery ago (a
// phase's last is forced); with p.mu held. `up` reads each node's last line (issue 35: the
// shell printed one per node asked, 256 lines a pass).
func (p *prober) progress(phase string, force bool) {
	if !force && time.Since(p.lastProgress) < p.progressEvery {
		return
	}
	p.lastProgress = time.Now()
	fmt.Fprintf(p.out, "%s %s %d %d %d\n", progressPrefix, phase, p.reached, p.tried, p.total)
}

// missed is an address that did not answer as its node, with the last answer it gave ("" none).
type missed struct {
	peer    int
	address string
	answer  string
}

// firstPass asks every address once, inFlightFor(N) at a time, from a peer of its own draw
// on round the committee (every node starting at node1 met 256 nodes' questions at one listener
// at once); it returns those that did not answer as their node, in committee order.
func (p *prober) firstPass() []missed {
	var all []missed
	for peer, addresses := range p.peers {
		for _, address := range addresses {
			all = append(all, missed{peer: peer, address: address})
		}
	}
	okAt := make([]bool, len(all))
	var wg sync.WaitGroup
	first := p.firstAsked(len(all))
	for k := range all {
		i := (first + k) % len(all)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			q := &all[i]
			answer, ok, _ := p.askOnce(q.peer, q.address, time.Time{})
			p.mu.Lock()
			defer p.mu.Unlock()
			p.tried++
			if ok {
				p.reached++
				p.note(fmt.Sprintf("peer %d %s ok", q.peer, q.address))
				okAt[i] = true
			} else {
				q.answer = answer
			}
			p.progress("checking", false)
		}(i)
	}
	wg.Wait()
	p.mu.Lock()
	p.progress("checking", true)
	p.mu.Unlock()
	var left []missed
	for i, q := range all {
		if !okAt[i] {
			left = append(left, q)
		}
	}
	return left
}

// retry asks the missed addresses again, after a second, then after twice as long each round up
// to retryMost, until each answered as its node or
// `deadline` has passed since the call; it returns those that never did, with their last answer.
func (p *prober) retry(left []missed, deadline time.Duration) []missed {
	until := time.Now().Add(deadline)
	wait := p.retryEvery
	for len(left) > 0 && time.Now().Before(until) {
		p.sleep(wait)
		if wait *= 2; wait > p.retryMost {
			wait = p.retryMost
		}
		okAt := make([]bool, len(left))
		var wg sync.WaitGroup
		for i := range left {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				q := &left[i]
				answer, ok, asked := p.askOnce(q.peer, q.address, until)
				if !asked {
					return // keeps the answer it gave before
				}
				if !ok {
					q.answer = answer
					return
				}
				p.mu.Lock()
				defer p.mu.Unlock()
				p.reached++
				p.note(fmt.Sprintf("peer %d %s ok", q.peer, q.address))
				okAt[i] = true
			}(i)
		}
		wg.Wait()
		var still []missed
		for i, q := range left {
			if !okAt[i] {
				still = append(still, q)
			}
		}
		left = still
		p.mu.Lock()
		p.progress("retrying", true)
		p.mu.Unlock()
	}
	return left
}

// noteUnreached reports each address that never answered as its node: a silent one
// ("unreachable") told from one where another program or node answers (its last answer).
// Spaces and tabs around an answer do not count, as the shell's `read` dropped them.
func (p *prober) noteUnreached(left []missed) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, q := range left {
		if answer := strings.Trim(q.answer, " \t"); answer == "" {
			p.note(fmt.Sprintf("peer %d %s unreachable", q.peer, q.address))
		} else {
			p.note(fmt.Sprintf("peer %d %s wrong-node: answered '%s'", q.peer, q.address, answer))
		}
	}
}

// linger keeps this node answering (its listener does) while another node may still be asking:
// it walks the committee from a node of its own draw, asking a node's first address once a second
// until that node says it is done, then the next node's. One question a second while it waits, not
// one a node: 256 nodes each asking all the others every second were tens of thousands of
// connections a second on one 2-core host, most of its CPU in the kernel, while the slowest nodes
// still retried (issue 35). The walk ends at once at a node that says "finished" (it has seen
// every node done), and passes a node that gave no answer missesToPass times in a row (gone: the
// nodes leave once finished; or unreachable, which its own report says). It returns whether every
// node said done or finished, which is when this node may say finished itself.
func (p *prober) linger(deadline time.Duration) bool {
	until := time.Now().Add(deadline)
	first := p.firstAsked(len(p.peers))
	everyone := true
	for k := range p.peers {
		peer := (first + k) % len(p.peers)
		addresses := p.peers[peer]
		if len(addresses) == 0 {
			continue
		}
		for misses := 0; ; {
			answer, _, asked := p.askOnce(peer, addresses[0], until)
			if !asked {
				p.progressWaiting(true)
				return false
			}
			if strings.Contains(answer, "state=finished") {
				p.progressWaiting(true)
				return true // that node saw every node done
			}
			if strings.Contains(answer, "state=done") {
				break
			}
			if answer == "" {
				if misses++; misses == missesToPass {
					everyone = false
					break
				}
			} else {
				misses = 0
			}
			p.progressWaiting(false)
			p.sleep(p.retryEvery)
		}
	}
	p.progressWaiting(true)
	return everyone
}

func (p *prober) progressWaiting(force bool) {
	p.mu.Lock()
	p.progress("waiting", force)
	p.mu.Unlock()
}
