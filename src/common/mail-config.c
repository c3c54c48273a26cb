/* mail-config.c: being written in this session */
