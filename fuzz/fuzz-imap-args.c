/* SPDX-License-Identifier: MIT
 * fuzz-imap-args.c: imap_parse_args () (what mw-imapd reads after the
 * tag and verb) and imap_parse_response_args () (what mw-imap and
 * mw-trace read), RFC 9051 §4 and §9, on one whole message: atoms with
 * "[...]" sections, quoted strings, {n}, {n+} and ~{n} literals (RFC
 * 7888, RFC 3516), NIL and nested lists.
 * Invariant: the tree written back parses to the same tree
 * (imap-args-check.h).
 */
#include "imap-args-check.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  fuzz_init ();
  fuzz_imap_check_args ((const char *) data, size, FALSE);
  fuzz_imap_check_args ((const char *) data, size, TRUE);
  return 0;
}
