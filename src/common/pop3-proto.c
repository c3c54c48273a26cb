/* pop3-proto.c: being written in this session */
