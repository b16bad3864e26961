// Package netif prepares and watches the sensor's capture interfaces: the
// ports wired to a switch's SPAN/mirror port or to a passive tap, which the
// AF_PACKET driver (drivers/afpacket) then reads.
//
// The daemon (`sensor run --iface eth1`) uses a Controller: Prepare before it
// opens its capture rings, Watch for carrier changes while it runs, Counters
// for the interface statistics in its stats records. New returns the real
// implementation (rtnetlink, the ethtool ioctl and /proc/sys); netiftest.Fake
// stands in for it in other packages' unit tests.
//
// # What Prepare does, and why
//
// Steps run in this order; each can be skipped through Options, and each is
// recorded in the Report with what it changed:
//
//  1. ipv6: the interface's IPv6 address generation mode is set to "none"
//     (rtnetlink IFLA_INET6_ADDR_GEN_MODE, as `ip link set DEV addrgenmode
//     none`) and net.ipv6.conf.DEV.disable_ipv6 is set to 1. Without this the
//     kernel gives every interface that comes up a fe80:: link-local address
//     and then talks on the port on its own: duplicate-address detection,
//     router solicitations, MLD reports. disable_ipv6 silences IPv6 on the
//     interface entirely; addr_gen_mode none keeps the link-local away even
//     where /proc/sys is read-only (containers), and then the step records
//     the sysctl error without failing. This runs before the interface is
//     brought up, so no link-local address appears at all.
//  2. arp: net.ipv4.conf.DEV.arp_ignore is set to 8 (never answer). Linux
//     answers ARP requests on any interface for addresses held by any other
//     interface, so without it a sensor whose mirror port sees a request for
//     its management address would answer on the capture port.
//  3. addresses: every IPv4 and IPv6 address is removed from the interface.
//     A sensor must be silent on its capture port: it must not route, answer
//     or announce there. (The operating system must not configure the port
//     either: no DHCP client, no IPv4 link-local daemon.)
//  4. offloads: the features that make the kernel hand the capture frames
//     that never were on the wire are switched off (DefaultOffloads; see
//     Offloads below).
//  5. promisc: the interface is put in promiscuous mode (IFF_PROMISC). A
//     mirror port delivers frames addressed to other stations; a NIC not in
//     promiscuous mode drops every unicast frame not for its own MAC before
//     the capture sees it.
//  6. up: the interface is brought up (IFF_UP). Carrier comes later, when the
//     switch side is up; Watch reports it.
//
// A second Prepare on a prepared interface changes nothing and says so
// (Report.Changed is false): the daemon calls it again when Watch reports
// that an interface reappeared (LinkEvent.Appeared), because a new device
// under the same name (a USB NIC replugged, a driver reloaded) has lost every
// setting.
//
// # Offloads
//
// Switched off (DefaultOffloads):
//
//   - rx-gro (GRO), rx-gro-hw (GRO in the NIC), rx-lro (LRO), rx-gro-list and
//     rx-udp-gro-forwarding merge received TCP/UDP segments into one large
//     packet before AF_PACKET sees it: the capture would hold 64 KiB
//     "frames", lose the real segment boundaries, sizes and timing, and the
//     TCP framing in dissect would see segments that no device sent.
//   - tx-generic-segmentation (GSO), tx-tcp-segmentation (TSO),
//     tx-tcp-ecn-segmentation, tx-tcp-mangleid-segmentation,
//     tx-tcp6-segmentation and tx-udp-segmentation (USO) do the same on the
//     transmit side. A silent sensor sends nothing, but AF_PACKET also sees
//     outgoing frames, and capture tools (tcpdump, Zeek, Suricata) have them
//     off on capture ports for that reason; so do we.
//
// Kept:
//
//   - rx-vlan-hw-parse (ethtool's "rx-vlan-offload") and
//     rx-vlan-stag-hw-parse take the 802.1Q/802.1ad tag out of the frame, but
//     AF_PACKET reports it in tp_vlan_tci and drivers/afpacket carries it
//     beside the frame (drivers.Frame.VLAN); switching it off would cost CPU
//     for nothing.
//   - rx-checksum only marks a checksum as verified and leaves the bytes
//     alone; scatter-gather, transmit checksums and receive hashing do not
//     change what is captured either.
//
// The kernel may refuse: a driver reports some features as fixed (ethtool's
// "[fixed]": a veth has no LRO to switch, many NICs have fixed features), or
// keeps a feature on because another needs it. None of that fails Prepare:
// each Feature in the Report says its state before and after and why it is
// still on (ErrFixed, ErrRefused), and the daemon shows the refused ones in
// its stats. Features are read and set with the SIOCETHTOOL ioctl
// (ETHTOOL_GFEATURES, ETHTOOL_SFEATURES), which every kernel has.
//
// # Errors
//
// A step that fails stops Prepare, which returns the Report so far and an
// *Error naming the interface and the step, for example
//
//	netif: eth1: set promiscuous: operation not permitted
//
// Features the kernel refuses to switch are not errors (see above).
//
// # Privileges and namespaces
//
// Prepare needs CAP_NET_ADMIN in the interface's network namespace, and
// nothing more: the kernel gives a process with CAP_NET_ADMIN root's access
// to that namespace's /proc/sys/net, so the daemon can still Prepare a
// reappeared interface after it has dropped to an unprivileged user with
// CAP_NET_RAW and CAP_NET_ADMIN (a read-only /proc/sys still stops the
// sysctl steps). Watch and Counters need no privilege. All three work in the
// network namespace of the calling OS thread, which for a daemon is the
// process's; tests lock their thread into a namespace they created. Watch
// keeps that namespace for its whole life, also across the netlink
// resubscriptions it makes after a socket overrun.
//
// On other systems than Linux, New returns a Controller whose methods fail
// with ErrNotSupported.
package netif
