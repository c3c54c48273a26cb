/* imap-proto.c: being written in this session */
