/* mail-net.c: being written in this session */
