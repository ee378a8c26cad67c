//! Zero-copy, bounds-checked header views: Ethernet, VLAN, ARP, IPv4, IPv6, TCP, UDP, ICMP
#![forbid(unsafe_code)]
