//! pcap and pcapng reading and writing with errors that name the byte offset
#![forbid(unsafe_code)]
