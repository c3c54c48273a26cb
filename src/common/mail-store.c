/* mail-store.c: being written in this session */
