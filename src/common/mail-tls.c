/* mail-tls.c: being written in this session */
