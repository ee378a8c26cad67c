//! AF_XDP sockets, UMEM, rings, frame accounting, XDP program attach and detach

