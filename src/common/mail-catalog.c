/* mail-catalog.c: being written in this session */
