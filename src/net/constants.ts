// Linux ABI numbers the TypeScript side needs (x86_64/generic; from <sys/socket.h>,
// <linux/netlink.h>, <linux/if_ether.h>, <netinet/in.h>).
export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_NETLINK = 16;
export const AF_PACKET = 17;

export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;

export const SOL_SOCKET = 1;
export const SO_RCVBUF = 8;
export const SO_SNDBUF = 7;
export const SO_RCVBUFFORCE = 33;
export const SO_BINDTODEVICE = 25;
/** Stamp each received datagram with the kernel's receive time (struct timespec, CLOCK_REALTIME). */
export const SO_TIMESTAMPNS = 35;
/** struct of u32[SK_MEMINFO_VARS]; index SK_MEMINFO_DROPS is the socket's drop counter. */
export const SO_MEMINFO = 55;
export const SK_MEMINFO_DROPS = 8;
export const SK_MEMINFO_VARS = 9;

export const IPPROTO_IP = 0;
export const IPPROTO_ICMP = 1;
export const IPPROTO_IPV6 = 41;
export const IPPROTO_ICMPV6 = 58;
export const IPPROTO_VRRP = 112;

export const IP_TTL = 2;
export const IP_HDRINCL = 3;
export const IP_PKTINFO = 8;
export const IP_RECVTTL = 12;
export const IP_MULTICAST_IF = 32;
export const IP_MULTICAST_TTL = 33;
export const IP_MULTICAST_LOOP = 34;
export const IP_ADD_MEMBERSHIP = 35;
export const IP_DROP_MEMBERSHIP = 36;

export const IPV6_UNICAST_HOPS = 16;
export const IPV6_MULTICAST_IF = 17;
export const IPV6_MULTICAST_HOPS = 18;
export const IPV6_MULTICAST_LOOP = 19;
export const IPV6_ADD_MEMBERSHIP = 20;
export const IPV6_DROP_MEMBERSHIP = 21;
export const IPV6_RECVPKTINFO = 49;
export const IPV6_PKTINFO = 50;
export const IPV6_RECVHOPLIMIT = 51;
export const IPV6_HOPLIMIT = 52;
export const IPV6_CHECKSUM = 7;

/** Raw ICMP sockets: which ICMP types the kernel delivers (<linux/icmp.h>, <linux/icmpv6.h>). */
export const SOL_RAW = 255;
export const ICMP_FILTER = 1;
export const ICMPV6_FILTER = 1;

export const SOL_NETLINK = 270;
export const NETLINK_ADD_MEMBERSHIP = 1;
export const NETLINK_DROP_MEMBERSHIP = 2;
export const NETLINK_EXT_ACK = 11;
export const NETLINK_GET_STRICT_CHK = 12;
export const NETLINK_CAP_ACK = 10;

export const NETLINK_ROUTE = 0;
export const NETLINK_GENERIC = 16;

export const ETH_P_ALL = 0x0003;
export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;
export const ETH_P_IPV6 = 0x86dd;

export const MSG_TRUNC = 0x20;
