package main

// Raw nfnetlink_queue client, standard library only.
//
// Wire format (all from the Linux UAPI headers):
//
//   struct nlmsghdr  { u32 nlmsg_len; u16 nlmsg_type; u16 nlmsg_flags;
//                      u32 nlmsg_seq; u32 nlmsg_pid; }          // host order, 16 bytes
//   struct nfgenmsg  { u8 nfgen_family; u8 version; __be16 res_id; } // 4 bytes
//   struct nlattr    { u16 nla_len; u16 nla_type; }             // host order, 4 bytes,
//                                                                // payload padded to 4
//
// nlmsg_type for nfnetlink is (subsystem << 8) | message; the queue subsystem
// is NFNL_SUBSYS_QUEUE = 3 (linux/netfilter/nfnetlink.h). res_id carries the
// queue number in network byte order (linux/netfilter/nfnetlink_queue.h).
// Attribute payload structs (nfqnl_msg_*) are big-endian.

import (
	"encoding/binary"
	"fmt"
	"syscall"
	"unsafe"
)

const (
	netlinkNetfilter = 12 // NETLINK_NETFILTER (linux/netlink.h)
	solNetlink       = 270
	netlinkNoENOBUFS = 5 // NETLINK_NO_ENOBUFS: do not report ENOBUFS on overrun, keep going

	nfnlSubsysQueue = 3

	nfqnlMsgPacket  = 0 // kernel -> user: a queued packet
	nfqnlMsgVerdict = 1 // user -> kernel: verdict for one packet id
	nfqnlMsgConfig  = 2 // user -> kernel: bind/unbind/params

	// nfqa_cfg attributes (config messages)
	nfqaCfgCmd         = 1 // struct nfqnl_msg_config_cmd { u8 command; u8 _pad; __be16 pf; }
	nfqaCfgParams      = 2 // struct nfqnl_msg_config_params { __be32 copy_range; u8 copy_mode; } __packed
	nfqaCfgQueueMaxlen = 3 // __be32
	nfqaCfgMask        = 4 // __be32, which NFQA_CFG_FLAGS bits to change
	nfqaCfgFlags       = 5 // __be32

	nfqaCfgFGSO = 1 << 2 // NFQA_CFG_F_GSO: do not software-segment GSO skbs before queueing

	// enum nfqnl_msg_config_cmds
	nfqnlCfgCmdBind     = 1
	nfqnlCfgCmdUnbind   = 2
	nfqnlCfgCmdPfBind   = 3
	nfqnlCfgCmdPfUnbind = 4

	nfqnlCopyPacket = 2 // enum nfqnl_config_mode: NFQNL_COPY_PACKET

	// enum nfqnl_attr_type (packet / verdict messages)
	nfqaPacketHdr  = 1  // struct nfqnl_msg_packet_hdr { __be32 packet_id; __be16 hw_protocol; u8 hook; } __packed
	nfqaVerdictHdr = 2  // struct nfqnl_msg_verdict_hdr { __be32 verdict; __be32 id; }
	nfqaPayload    = 10 // the first copy_range bytes of the network-layer packet

	nfDrop   = 0 // NF_DROP
	nfAccept = 1 // NF_ACCEPT

	nlmsgHdrLen = 16
	nfgenLen    = 4
	nlaHdrLen   = 4
	nlaTypeMask = 0x3fff // strip NLA_F_NESTED / NLA_F_NET_BYTEORDER

	// verdict message = nlmsghdr + nfgenmsg + nlattr + nfqnl_msg_verdict_hdr
	verdictMsgLen = nlmsgHdrLen + nfgenLen + nlaHdrLen + 8
)

// native is the host byte order, used for nlmsghdr and nlattr headers.
var native binary.ByteOrder

func init() {
	x := uint16(1)
	if *(*byte)(unsafe.Pointer(&x)) == 1 {
		native = binary.LittleEndian
	} else {
		native = binary.BigEndian
	}
}

func nlaAlign(n int) int { return (n + 3) &^ 3 }

// nfqSock is one AF_NETLINK/NETLINK_NETFILTER socket. Receiving (one
// goroutine) and sending verdicts (other goroutines) on the same fd
// concurrently is safe: each sendto is one atomic datagram.
type nfqSock struct {
	fd  int
	seq uint32 // only used during single-threaded setup
}

func openNfq(rcvbuf int) (*nfqSock, error) {
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, netlinkNetfilter)
	if err != nil {
		return nil, fmt.Errorf("socket(AF_NETLINK, NETLINK_NETFILTER): %v", err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("bind netlink: %v", err)
	}
	// A big receive buffer absorbs bursts while the scheduler holds the lock.
	// SO_RCVBUFFORCE ignores rmem_max but needs CAP_NET_ADMIN (which we need
	// anyway); fall back to SO_RCVBUF (capped by net.core.rmem_max).
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, rcvbuf); err != nil {
		_ = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
	}
	// Overruns are counted by the kernel (user_dropped in
	// /proc/net/netfilter/nfnetlink_queue); without this flag recvfrom would
	// return ENOBUFS once and we would have to treat the socket as desynced.
	_ = syscall.SetsockoptInt(fd, solNetlink, netlinkNoENOBUFS, 1)
	return &nfqSock{fd: fd}, nil
}

func (s *nfqSock) close() { syscall.Close(s.fd) }

// putHdr writes nlmsghdr + nfgenmsg at b[0:20].
func putHdr(b []byte, msgLen int, msgType uint16, flags uint16, seq uint32, family uint8, resID uint16) {
	native.PutUint32(b[0:4], uint32(msgLen))
	native.PutUint16(b[4:6], nfnlSubsysQueue<<8|msgType)
	native.PutUint16(b[6:8], flags)
	native.PutUint32(b[8:12], seq)
	native.PutUint32(b[12:16], 0) // nlmsg_pid 0 = to the kernel
	b[16] = family
	b[17] = 0                                   // NFNETLINK_V0
	binary.BigEndian.PutUint16(b[18:20], resID) // queue number, network order
}

// putAttr appends one attribute (with padding) to b.
func putAttr(b []byte, typ uint16, payload []byte) []byte {
	l := nlaHdrLen + len(payload)
	var h [4]byte
	native.PutUint16(h[0:2], uint16(l))
	native.PutUint16(h[2:4], typ)
	b = append(b, h[:]...)
	b = append(b, payload...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// configRequest sends one NFQNL_MSG_CONFIG with NLM_F_ACK and waits for
// the ack. Packet messages that arrive meanwhile (the iptables rule may already
// exist) are handed to onPacket so nothing is left without a verdict.
func (s *nfqSock) configRequest(family uint8, queue uint16, attrs []byte, onPacket func(queue uint16, id uint32, payload []byte)) error {
	s.seq++
	seq := s.seq
	b := make([]byte, nlmsgHdrLen+nfgenLen, nlmsgHdrLen+nfgenLen+len(attrs))
	b = append(b, attrs...)
	putHdr(b, len(b), nfqnlMsgConfig, syscall.NLM_F_REQUEST|syscall.NLM_F_ACK, seq, family, queue)
	if err := syscall.Sendto(s.fd, b, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return err
	}
	buf := make([]byte, 1<<16)
	for {
		n, _, err := syscall.Recvfrom(s.fd, buf, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		var ackErr error
		got := false
		parseMessages(buf[:n], onPacket, func(errno int32, eseq uint32) {
			if eseq == seq {
				got = true
				if errno != 0 {
					ackErr = syscall.Errno(-errno)
				}
			}
		})
		if got {
			return ackErr
		}
	}
}

func cmdAttr(cmd uint8, pf uint16) []byte {
	var p [4]byte
	p[0] = cmd
	binary.BigEndian.PutUint16(p[2:4], pf)
	return putAttr(nil, nfqaCfgCmd, p[:])
}

// bindQueue performs the per-queue configuration.
func (s *nfqSock) bindQueue(q uint16, copyRange uint32, maxLen uint32, onPacket func(uint16, uint32, []byte)) (gsoOK bool, err error) {
	// Pre-3.8 kernels needed the nf_queue handler bound per protocol family
	// (PF_UNBIND then PF_BIND AF_INET); newer kernels accept these as no-ops.
	// Errors are ignored on purpose, as libnetfilter_queue users do.
	_ = s.configRequest(syscall.AF_INET, 0, cmdAttr(nfqnlCfgCmdPfUnbind, syscall.AF_INET), onPacket)
	_ = s.configRequest(syscall.AF_INET, 0, cmdAttr(nfqnlCfgCmdPfBind, syscall.AF_INET), onPacket)

	if err := s.configRequest(syscall.AF_UNSPEC, q, cmdAttr(nfqnlCfgCmdBind, 0), onPacket); err != nil {
		switch err {
		case syscall.EBUSY:
			return false, fmt.Errorf("bind queue %d: %v (another process already listens on this queue number)", q, err)
		case syscall.EPERM:
			return false, fmt.Errorf("bind queue %d: %v (needs CAP_NET_ADMIN in this network namespace)", q, err)
		}
		return false, fmt.Errorf("bind queue %d: %v", q, err)
	}
	// Copy only the first copyRange bytes: enough for the IP header and the
	// TCP/UDP ports used as the flow key; keeps the netlink traffic small.
	var p [5]byte
	binary.BigEndian.PutUint32(p[0:4], copyRange)
	p[4] = nfqnlCopyPacket
	if err := s.configRequest(syscall.AF_UNSPEC, q, putAttr(nil, nfqaCfgParams, p[:]), onPacket); err != nil {
		return false, fmt.Errorf("set copy mode on queue %d: %v", q, err)
	}
	var ml [4]byte
	binary.BigEndian.PutUint32(ml[:], maxLen)
	if err := s.configRequest(syscall.AF_UNSPEC, q, putAttr(nil, nfqaCfgQueueMaxlen, ml[:]), onPacket); err != nil {
		return false, fmt.Errorf("set queue maxlen on queue %d: %v", q, err)
	}
	// Ask the kernel not to segment GSO/TSO super-packets before queueing
	// them (fewer, larger units; we never touch the payload). Optional: old
	// kernels answer EOPNOTSUPP and we carry on.
	var fl [4]byte
	binary.BigEndian.PutUint32(fl[:], nfqaCfgFGSO)
	a := putAttr(nil, nfqaCfgFlags, fl[:])
	a = putAttr(a, nfqaCfgMask, fl[:])
	gsoErr := s.configRequest(syscall.AF_UNSPEC, q, a, onPacket)
	return gsoErr == nil, nil
}

// parseMessages walks a datagram that may hold several netlink messages.
func parseMessages(b []byte, onPacket func(queue uint16, id uint32, payload []byte), onError func(errno int32, seq uint32)) {
	for len(b) >= nlmsgHdrLen {
		l := int(native.Uint32(b[0:4]))
		if l < nlmsgHdrLen || l > len(b) {
			return // truncated or garbage: drop rest of datagram
		}
		typ := native.Uint16(b[4:6])
		seq := native.Uint32(b[8:12])
		msg := b[nlmsgHdrLen:l]
		switch {
		case typ == syscall.NLMSG_ERROR:
			if len(msg) >= 4 {
				onError(int32(native.Uint32(msg[0:4])), seq)
			}
		case typ == nfnlSubsysQueue<<8|nfqnlMsgPacket && len(msg) >= nfgenLen:
			queue := binary.BigEndian.Uint16(msg[2:4])
			id, payload, ok := parsePacketAttrs(msg[nfgenLen:])
			if ok {
				onPacket(queue, id, payload)
			}
		}
		adv := nlaAlign(l)
		if adv >= len(b) {
			return
		}
		b = b[adv:]
	}
}

// parsePacketAttrs extracts the packet id (NFQA_PACKET_HDR) and the copied
// payload (NFQA_PAYLOAD) from the attributes of an NFQNL_MSG_PACKET.
func parsePacketAttrs(a []byte) (id uint32, payload []byte, ok bool) {
	for len(a) >= nlaHdrLen {
		l := int(native.Uint16(a[0:2]))
		if l < nlaHdrLen || l > len(a) {
			break
		}
		switch native.Uint16(a[2:4]) & nlaTypeMask {
		case nfqaPacketHdr:
			if l >= nlaHdrLen+4 {
				id = binary.BigEndian.Uint32(a[4:8])
				ok = true
			}
		case nfqaPayload:
			payload = a[nlaHdrLen:l]
		}
		if nlaAlign(l) >= len(a) {
			break
		}
		a = a[nlaAlign(l):]
	}
	return
}

// appendVerdict appends one NFQNL_MSG_VERDICT to b. Several can be sent in
// one datagram; the kernel processes each message in turn. No NLM_F_ACK:
// the kernel still reports failures as NLMSG_ERROR, counted by the reader.
func appendVerdict(b []byte, queue uint16, id uint32, verdict uint32) []byte {
	var m [verdictMsgLen]byte
	putHdr(m[:], verdictMsgLen, nfqnlMsgVerdict, syscall.NLM_F_REQUEST, 0, syscall.AF_UNSPEC, queue)
	native.PutUint16(m[20:22], nlaHdrLen+8)
	native.PutUint16(m[22:24], nfqaVerdictHdr)
	binary.BigEndian.PutUint32(m[24:28], verdict)
	binary.BigEndian.PutUint32(m[28:32], id)
	return append(b, m[:]...)
}

func (s *nfqSock) send(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	for {
		// write() on an unconnected netlink socket goes to the kernel
		// (dst portid 0); unlike Sendto it allocates no sockaddr.
		_, err := syscall.Write(s.fd, b)
		if err == syscall.EINTR {
			continue
		}
		return err
	}
}
