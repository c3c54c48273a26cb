/* smtp-proto.c: being written in this session */
