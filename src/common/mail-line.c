/* mail-line.c: being written in this session */
