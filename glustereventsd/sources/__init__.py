"""Where datagrams come from: the UDP sockets Gluster sends to (``udp``)."""
