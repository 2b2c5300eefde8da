package main

// Both sides on 127.0.0.1 with ports the kernel picks, and stand-in peers that
// answer, answer wrong, refuse, freeze or answer late. Bounds here are short
// (a question 300 ms) so that a peer that never answers costs little.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// failAfter bounds a wait that only a bug makes long: the test fails instead of hanging.
const failAfter = 10 * time.Second

// standIn listens on a free port and runs handle for each connection; it returns the address.
func standIn(t *testing.T, handle func(conn net.Conn, question int)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for question := 0; ; question++ {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func(question int) {
				defer conn.Close()
				handle(conn, question)
			}(question)
		}
	}()
	return ln.Addr().String()
}

// refusedAddress is an address nothing listens on (a port just freed).
func refusedAddress(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	address := ln.Addr().String()
	ln.Close()
	return address
}

func says(line string) func(net.Conn, int) {
	return func(conn net.Conn, _ int) { io.WriteString(conn, line) }
}

func testProber(peers [][]string) (*prober, *bytes.Buffer, *bytes.Buffer) {
	report, out := &bytes.Buffer{}, &bytes.Buffer{}
	p := newProber(peers, report, out)
	p.connect = 200 * time.Millisecond
	p.question = 300 * time.Millisecond
	p.retryEvery = 20 * time.Millisecond
	p.progressEvery = time.Hour // only the first line and each phase's last
	return p, report, out
}

func lines(b *bytes.Buffer) []string {
	return strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
}

func readLine(t *testing.T, conn net.Conn) string {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(failAfter))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the answer: %v (got %q)", err, line)
	}
	return line
}

func TestListenerAnswersEveryConnectionAtOnceWithTheStateOfTheMoment(t *testing.T) {
	state := filepath.Join(t.TempDir(), "probe-state")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go serve(ln, "7", state, time.Minute)
	defer ln.Close()
	dial := func() net.Conn {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		return conn
	}
	silent := dial() // neither reads its answer nor closes: it holds no other asker
	defer silent.Close()
	first := dial()
	if got := readLine(t, first); got != "gomelctl-probe pid=7 state=starting\n" {
		t.Fatalf("no state file yet: %q", got)
	}
	first.Close()
	os.WriteFile(state, []byte("checking\n"), 0o644)
	second := dial()
	if got := readLine(t, second); got != "gomelctl-probe pid=7 state=checking\n" {
		t.Fatalf("while checking: %q", got)
	}
	second.Close()
	os.WriteFile(state, []byte("done\n"), 0o644)
	third := dial()
	defer third.Close()
	third.SetReadDeadline(time.Now().Add(failAfter))
	all, err := io.ReadAll(third) // the answer, then the listener's end of the connection
	if err != nil || string(all) != "gomelctl-probe pid=7 state=done\n" {
		t.Fatalf("once done: %q, %v", all, err)
	}
}

func TestAskReachesPeersByRetryAndTellsWrongNodeFromUnreachable(t *testing.T) {
	frozenClosed := make(chan struct{})
	peers := [][]string{
		{standIn(t, says("gomelctl-probe pid=0 state=checking\n"))},
		{standIn(t, says("gomelctl-probe pid=9 state=done\n"))}, // another node
		{refusedAddress(t)},
		{standIn(t, func(conn net.Conn, question int) { // the handshake, then nothing
			if question == 0 {
				io.Copy(io.Discard, conn) // until the asker gives up and closes
				close(frozenClosed)
			}
			io.Copy(io.Discard, conn)
		})},
		{standIn(t, func(conn net.Conn, question int) { // late: closes at first, answers from then on
			if question > 0 {
				io.WriteString(conn, "gomelctl-probe pid=4 state=starting\n")
			}
		})},
		{standIn(t, func(net.Conn, int) {})}, // closes without a word
		{standIn(t, func(conn net.Conn, question int) { // another node, then nothing: the last answer counts
			if question == 0 {
				io.WriteString(conn, "gomelctl-probe pid=1 state=done\n")
			}
		})},
		{standIn(t, says(" \thello \nmore\n"))},                                      // not a probe; its first line, trimmed as read did
		{standIn(t, says("gomelctl-probe pid=80 state=done\n"))},                     // pid 8 is not pid 80
		{standIn(t, says("gomelctl-probe pid=9 state=checking")), refusedAddress(t)}, // one of two addresses, no newline
	}
	p, report, out := testProber(peers)
	done := make(chan struct{})
	go func() {
		p.noteUnreached(p.retry(p.firstPass(), 500*time.Millisecond))
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(failAfter):
		t.Fatal("the questions never ended: one waits on the frozen peer for ever")
	}

	a := func(peer int) string { return peers[peer][0] }
	want := []string{
		// The first pass, then the retries, then every address never reached, in committee order.
		"peer 0 " + a(0) + " ok",
		"peer 9 " + a(9) + " ok",
		"peer 4 " + a(4) + " ok",
		"peer 1 " + a(1) + " wrong-node: answered 'gomelctl-probe pid=9 state=done'",
		"peer 2 " + a(2) + " unreachable",
		"peer 3 " + a(3) + " unreachable",
		"peer 5 " + a(5) + " unreachable",
		"peer 6 " + a(6) + " unreachable",
		"peer 7 " + a(7) + " wrong-node: answered 'hello'",
		"peer 8 " + a(8) + " wrong-node: answered 'gomelctl-probe pid=80 state=done'",
		"peer 9 " + peers[9][1] + " unreachable",
	}
	got := lines(report)
	// The first pass's two ok lines come in the order their answers did.
	if len(got) == len(want) && got[0] == want[1] {
		got[0], got[1] = got[1], got[0]
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("report:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	<-frozenClosed // the asker gave up and closed the connection
	// Progress: the first pass's first and last lines (none per question), then one a round of retries.
	progress := lines(out)
	if len(progress) < 3 || !strings.HasPrefix(progress[0], "gomelctl-probe-progress checking ") ||
		progress[1] != "gomelctl-probe-progress checking 2 11 11" ||
		progress[len(progress)-1] != "gomelctl-probe-progress retrying 3 11 11" {
		t.Fatalf("progress lines: %q", progress)
	}
	for _, line := range progress[2:] {
		if !strings.HasPrefix(line, "gomelctl-probe-progress retrying ") {
			t.Fatalf("progress lines: %q", progress)
		}
	}
}

func TestAskHasAtMostInFlightQuestionsAtOnce(t *testing.T) {
	var mu sync.Mutex
	open, most := 0, 0
	release := make(chan struct{})
	reachedBound := make(chan struct{}, 1)
	held := func(peer int) func(net.Conn, int) {
		return func(conn net.Conn, _ int) {
			mu.Lock()
			open++
			if open > most {
				most = open
			}
			if open == 4 {
				select {
				case reachedBound <- struct{}{}:
				default:
				}
			}
			mu.Unlock()
			<-release
			mu.Lock()
			open-- // before the answer: the asker frees its slot only once it has it
			mu.Unlock()
			fmt.Fprintf(conn, "gomelctl-probe pid=%d state=done\n", peer)
		}
	}
	peers := make([][]string, 40)
	for k := range peers {
		peers[k] = []string{standIn(t, held(k))}
	}
	p, report, _ := testProber(peers)
	p.slots = make(chan struct{}, 4)
	p.question = failAfter
	done := make(chan []missed)
	go func() { done <- p.firstPass() }()
	select {
	case <-reachedBound:
	case <-time.After(failAfter):
		t.Fatal("never 4 questions at once")
	}
	// A fifth would be asked at once if nothing held it back: give it the time to show up.
	time.Sleep(100 * time.Millisecond)
	close(release)
	left := <-done
	mu.Lock()
	defer mu.Unlock()
	if most != 4 || len(left) != 0 || strings.Count(report.String(), " ok\n") != 40 {
		t.Fatalf("at most %d at once (want 4), %d left, report:\n%s", most, len(left), report)
	}
}

// counted answers each question with answer(question) and counts the questions by peer.
type counted struct {
	mu    sync.Mutex
	asked map[int]int
}

func (c *counted) peer(t *testing.T, peer int, answer func(question int) string) string {
	return standIn(t, func(conn net.Conn, question int) {
		c.mu.Lock()
		c.asked[peer]++
		c.mu.Unlock()
		io.WriteString(conn, answer(question))
	})
}

func (c *counted) count() map[int]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	copied := map[int]int{}
	for peer, n := range c.asked {
		copied[peer] = n
	}
	return copied
}

func always(line string) func(int) string { return func(int) string { return line } }

func TestLingerWalksTheNodesOneAtATimeUntilEachIsDone(t *testing.T) {
	c := &counted{asked: map[int]int{}}
	peers := [][]string{
		{c.peer(t, 0, always("gomelctl-probe pid=0 state=done\n")), refusedAddress(t)},
		{c.peer(t, 1, func(q int) string {
			if q < 2 {
				return "gomelctl-probe pid=1 state=checking\n"
			}
			return "gomelctl-probe pid=1 state=done\n"
		})},
		{refusedAddress(t)}, // never answers: passed after missesToPass questions
		{},                  // no address: nothing to ask
		{c.peer(t, 4, always("gomelctl-probe pid=4 state=done\n"))},
	}
	p, _, out := testProber(peers)
	p.firstAsked = func(int) int { return 1 }
	var waits []time.Duration
	p.sleep = func(d time.Duration) { waits = append(waits, d) }
	if everyone := p.linger(2 * time.Second); everyone {
		t.Fatal("node 2 never answered, yet the linger says every node was done")
	}
	if asked := c.count(); asked[0] != 1 || asked[1] != 3 || asked[4] != 1 {
		t.Fatalf("questions: %v (want node 1 until its third answer, nodes 4 and 0 once)", asked)
	}
	// A wait after each answer that was not done: node 1's two, node 2's first two silences.
	if len(waits) != 4 {
		t.Fatalf("waits %v, want 4", waits)
	}
	if progress := lines(out); progress[len(progress)-1] != "gomelctl-probe-progress waiting 0 0 5" {
		t.Fatalf("progress lines: %q", progress)
	}
}

// While one node is not done, no other is asked: a committee of N asks N questions a second while
// it waits, not N² (issue 35: the linger's questions, every node to every node each second, kept
// a 256-node host loaded while the slowest nodes still retried).
func TestLingerAsksOnlyTheNodeItWaitsForUntilTheDeadline(t *testing.T) {
	c := &counted{asked: map[int]int{}}
	peers := [][]string{{c.peer(t, 0, always("gomelctl-probe pid=0 state=checking\n"))}}
	for k := 1; k < 10; k++ {
		peers = append(peers, []string{c.peer(t, k, always(fmt.Sprintf("gomelctl-probe pid=%d state=done\n", k)))})
	}
	p, _, _ := testProber(peers)
	p.firstAsked = func(int) int { return 0 }
	if everyone := p.linger(200 * time.Millisecond); everyone {
		t.Fatal("node 0 was never done, yet the linger says every node was")
	}
	asked := c.count()
	if asked[0] < 2 {
		t.Fatalf("node 0 asked %d times in 200 ms, once every 20 ms: want it asked again", asked[0])
	}
	if len(asked) != 1 {
		t.Fatalf("questions %v: only node 0, the one not done, should be asked", asked)
	}
}

// A node that says finished has seen every node done: the walk ends there.
func TestLingerEndsAtANodeThatSaysFinished(t *testing.T) {
	c := &counted{asked: map[int]int{}}
	peers := [][]string{
		{c.peer(t, 0, always("gomelctl-probe pid=0 state=finished\n"))},
		{c.peer(t, 1, always("gomelctl-probe pid=1 state=checking\n"))},
	}
	p, _, _ := testProber(peers)
	p.firstAsked = func(int) int { return 0 }
	if everyone := p.linger(time.Second); !everyone {
		t.Fatal("node 0 said finished: every node was done")
	}
	if asked := c.count(); asked[0] != 1 || asked[1] != 0 {
		t.Fatalf("questions %v: want node 0 once and node 1 never", asked)
	}
}

// Retries wait a second, then twice as long each round up to retryMostFor(N).
func TestRetriesWaitLongerEachRoundUpToRetryMost(t *testing.T) {
	peers := [][]string{{refusedAddress(t)}}
	p, _, _ := testProber(peers)
	p.retryMost = 80 * time.Millisecond
	var waits []time.Duration
	p.sleep = func(d time.Duration) { waits = append(waits, d); time.Sleep(d) }
	left := p.retry([]missed{{peer: 0, address: peers[0][0]}}, 400*time.Millisecond)
	if len(left) != 1 {
		t.Fatalf("left %v", left)
	}
	want := []time.Duration{20, 40, 80, 80}
	for i := range want {
		if i >= len(waits) || waits[i] != want[i]*time.Millisecond {
			t.Fatalf("waits %v, want them to begin %v ms", waits, want)
		}
	}
	for _, c := range []struct {
		n    int
		want time.Duration
	}{{4, time.Second}, {16, time.Second}, {64, 4 * time.Second}, {256, 16 * time.Second}} {
		if got := retryMostFor(c.n); got != c.want {
			t.Errorf("retryMostFor(%d) = %v, want %v", c.n, got, c.want)
		}
	}
}

func TestAHostIsLookedUpAgainOnlyOnceItStopsAnsweringAsItsNode(t *testing.T) {
	var mu sync.Mutex
	right := true
	port := func(address string) string { _, port, _ := net.SplitHostPort(address); return port }(
		standIn(t, func(conn net.Conn, _ int) {
			mu.Lock()
			defer mu.Unlock()
			pid := 0
			if !right {
				pid = 5
			}
			fmt.Fprintf(conn, "gomelctl-probe pid=%d state=done\n", pid)
		}))
	p, _, _ := testProber(nil)
	lookups := 0
	p.lookup = func(_ context.Context, host string) ([]string, error) {
		lookups++
		if host != "node1" {
			return nil, fmt.Errorf("no such host %s", host)
		}
		return []string{"127.0.0.1"}, nil
	}
	address := "node1:" + port
	for i := 0; i < 3; i++ {
		if _, ok, _ := p.askOnce(0, address, time.Time{}); !ok {
			t.Fatalf("question %d not answered as node 0", i)
		}
	}
	if lookups != 1 {
		t.Fatalf("%d lookups for three questions to one host, want 1", lookups)
	}
	mu.Lock()
	right = false
	mu.Unlock()
	p.askOnce(0, address, time.Time{}) // to the address it had
	if lookups != 1 {
		t.Fatalf("%d lookups, want still 1", lookups)
	}
	p.askOnce(0, address, time.Time{})
	if lookups != 2 {
		t.Fatalf("%d lookups, want one more after a wrong answer (2)", lookups)
	}
	if answer, ok, _ := p.askOnce(0, "nowhere:"+port, time.Time{}); ok || answer != "" {
		t.Fatalf("a host that does not resolve: %q, %v", answer, ok)
	}
}

func TestAskCommandReportsItsInputErrorsOnOneLine(t *testing.T) {
	dir := t.TempDir()
	committee := filepath.Join(dir, "committee.ka")
	os.WriteFile(committee, []byte("pk|rmc||"+refusedAddress(t)+"\n"), 0o644)
	report, state := filepath.Join(dir, "probe.txt"), filepath.Join(dir, "state")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"ask", filepath.Join(dir, "none.ka"), report, state, "1"}, "none.ka: no such file"},
		{[]string{"ask", committee, report, state, "soon"}, `deadline "soon" is not a whole number of seconds`},
		{[]string{"ask", committee, filepath.Join(dir, "no/such/dir"), state, "0"}, "no/such/dir"},
		{[]string{"listen", "0", state}, "usage: "},
		{[]string{"listen", "0", state, "no-port"}, "no-port"},
		{nil, "usage: "},
	} {
		code, err := run(c.args, io.Discard)
		if code != 2 || err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: exit %d, %v (want 2 and one line with %q)", c.args, code, err, c.want)
		}
	}
}

func TestAskCommandExitsOneWhenAnAddressWasNotReachedAndSaysItIsDone(t *testing.T) {
	dir := t.TempDir()
	committee := filepath.Join(dir, "committee.ka")
	reached := standIn(t, says("gomelctl-probe pid=0 state=done\n"))
	os.WriteFile(committee, []byte(fmt.Sprintf("pk|rmc||%s\npk|rmc||\n", reached)), 0o644)
	report, state := filepath.Join(dir, "probe.txt"), filepath.Join(dir, "state")
	var out bytes.Buffer
	if code, err := run([]string{"ask", committee, report, state, "0"}, &out); code != 0 || err != nil {
		t.Fatalf("every address reached: exit %d, %v", code, err)
	}
	// With no time to linger, it is done, not finished: it never saw the others done.
	if text, _ := os.ReadFile(state); string(text) != "done\n" {
		t.Fatalf("state %q", text)
	}
	if text, _ := os.ReadFile(report); string(text) != "peer 0 "+reached+" ok\n" {
		t.Fatalf("report %q", text)
	}
	os.WriteFile(committee, []byte(fmt.Sprintf("pk|rmc||%s %s\n", reached, refusedAddress(t))), 0o644)
	if code, err := run([]string{"ask", committee, report, state, "0"}, &out); code != 1 || err != nil {
		t.Fatalf("an address not reached: exit %d, %v", code, err)
	}
	// Every node seen done in the linger: finished.
	os.WriteFile(committee, []byte(fmt.Sprintf("pk|rmc||%s\n", reached)), 0o644)
	if code, err := run([]string{"ask", committee, report, state, "5"}, &out); code != 0 || err != nil {
		t.Fatalf("every address reached: exit %d, %v", code, err)
	}
	if text, _ := os.ReadFile(state); string(text) != "finished\n" {
		t.Fatalf("state %q after seeing every node done, want finished", text)
	}
}

// A committee's questions at once stay near committeeInFlight as N grows (256 nodes asking 64
// each on one host overloaded its swarm manager); small committees keep inFlight.
func TestInFlightFor(t *testing.T) {
	for _, c := range []struct{ n, want int }{{4, 64}, {32, 64}, {64, 32}, {128, 16}, {256, 8}, {1024, 4}, {0, 64}} {
		if got := inFlightFor(c.n); got != c.want {
			t.Errorf("inFlightFor(%d) = %d, want %d", c.n, got, c.want)
		}
	}
}
