/* mail-auth.c: being written in this session */
