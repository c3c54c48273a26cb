/* SPDX-License-Identifier: MIT
 * mw-admin-cert.c: "mw-admin cert": a self-signed certificate and its key
 * for a lab's servers (mail_tls_write_self_signed ()); clients trust it
 * by naming the certificate file as their CA file.
 */
#include "mail-tls.h"
#include "mw-admin.h"

#define CERT_DEFAULT_DAYS 365

int
mw_admin_cmd_cert (MwAdmin *admin, int argc, char **argv)
{
  g_autofree char *cert_file = NULL;
  g_autofree char *key_file = NULL;
  int days = CERT_DEFAULT_DAYS;
  const GOptionEntry entries[] = {
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &cert_file,
      "Write the certificate (PEM) to CERT", "CERT" },
    { "key", 'k', 0, G_OPTION_ARG_FILENAME, &key_file,
      "Write the private key (PEM, mode 0600) to KEY", "KEY" },
    { "days", 'd', 0, G_OPTION_ARG_INT, &days, "Valid for N days (default 365)",
      "N" },
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr (GError) error = NULL;
  g_autofree char *names = NULL;

  if (!mw_admin_parse_options (admin, entries, "NAME...",
                               "NAMEs are host names or IP addresses; the "
                               "first is the subject's common name.",
                               &argc, &argv))
    return MW_ADMIN_EXIT_USAGE;
  if (cert_file == NULL || key_file == NULL)
    return mw_admin_usage ("cert: --out CERT and --key KEY are required");
  if (argc < 2)
    return mw_admin_usage ("cert: name at least one host or address");
  if (days <= 0)
    return mw_admin_usage ("cert: --days must be positive, not %d", days);
  if (!mail_tls_write_self_signed (
          cert_file, key_file, (const char *const *) argv + 1, days, &error))
    return mw_admin_fail ("cert: %s", error->message);
  names = g_strjoinv (", ", argv + 1);
  g_print ("wrote %s and %s for %s, valid %d days\n", cert_file, key_file,
           names, days);
  return MW_ADMIN_EXIT_OK;
}
