/* SPDX-License-Identifier: MIT
 * mail-config.c: mailwire.conf, read with GKeyFile and checked key by key
 * against one table, so that a typo or a bad value is an error that names
 * the file, the line and the key instead of a silent default.
 */
#include "mail-config.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

G_DEFINE_QUARK (mail_config_error, mail_config_error)

#define MAIL_CONFIG_DEFAULT_STATE_DIR "mailwire-state"
#define MAIL_CONFIG_DEFAULT_MAX_SIZE (50 * 1024 * 1024)
#define MAIL_CONFIG_DEFAULT_MAX_RECIPIENTS 100
#define MAIL_CONFIG_DEFAULT_TIMEOUT 300
#define MAIL_CONFIG_DEFAULT_RETRY_MIN 60
#define MAIL_CONFIG_DEFAULT_RETRY_MAX 3600
#define MAIL_CONFIG_DEFAULT_LIFETIME (5 * 24 * 3600)
#define MAIL_CONFIG_DEFAULT_DNS_TIMEOUT 5 /* glibc's RES_TIMEOUT */
/* RFC 3461 §4.1 leaves when to send "delayed" to us: Sendmail's 4 h. */
#define MAIL_CONFIG_DEFAULT_DELAY_NOTICE (4 * 3600)
/* Relay connections at once, in all and per next-hop domain: Postfix's
 * default_process_limit is 100 and its destination concurrency 20; a
 * teaching server on a laptop needs far fewer. */
#define MAIL_CONFIG_DEFAULT_MAX_CONNECTIONS 10
#define MAIL_CONFIG_DEFAULT_MAX_PER_DESTINATION 2
#define MAIL_CONFIG_DEFAULT_MX_PORT 25 /* RFC 5321 §4.5.4.2 */

/* How the text of a value is read. Each kind has one parser below. */
typedef enum
{
  CONFIG_STRING,    /* any non-empty text */
  CONFIG_ADDRESS,   /* an IP address literal to bind */
  CONFIG_PATH,      /* a file name, relative to the config file */
  CONFIG_DOMAINS,   /* a list of domain names */
  CONFIG_BOOLEAN,   /* true/false, yes/no, on/off, 1/0 */
  CONFIG_PORT,      /* 0-65535, or -1 for "off" */
  CONFIG_SECONDS,   /* a positive count of seconds */
  CONFIG_COUNT,     /* a positive count */
  CONFIG_SIZE,      /* bytes, with an optional K, M or G suffix */
  CONFIG_PLAINTEXT, /* never, loopback or always */
} ConfigKind;

typedef struct
{
  const char *group;
  const char *key;
  ConfigKind kind;
  gsize offset; /* of the field in MailConfig */
} ConfigKey;

#define FIELD(member) offsetof (MailConfig, member)

/* Every key mailwire.conf may hold; mail-config.h documents them. */
static const ConfigKey config_keys[] = {
  { "general", "hostname", CONFIG_STRING, FIELD (hostname) },
  { "general", "domains", CONFIG_DOMAINS, FIELD (domains) },
  { "general", "state_dir", CONFIG_PATH, FIELD (state_dir) },
  { "general", "users_file", CONFIG_PATH, FIELD (users_file) },
  { "general", "mail_root", CONFIG_PATH, FIELD (mail_root) },
  { "general", "tls_cert", CONFIG_PATH, FIELD (tls_cert) },
  { "general", "tls_key", CONFIG_PATH, FIELD (tls_key) },
  { "general", "tls_keylog", CONFIG_PATH, FIELD (tls_keylog) },
  { "general", "protocol_log", CONFIG_BOOLEAN, FIELD (protocol_log) },
  { "general", "timeout", CONFIG_SECONDS, FIELD (timeout) },
  { "smtp", "listen", CONFIG_ADDRESS, FIELD (smtp.listen) },
  { "smtp", "port", CONFIG_PORT, FIELD (smtp.port) },
  { "smtp", "submission_port", CONFIG_PORT, FIELD (submission.port) },
  { "smtp", "smtps_port", CONFIG_PORT, FIELD (smtps.port) },
  { "smtp", "max_size", CONFIG_SIZE, FIELD (smtp_max_size) },
  { "smtp", "max_recipients", CONFIG_COUNT, FIELD (smtp_max_recipients) },
  { "smtp", "sender_must_match_login", CONFIG_BOOLEAN,
    FIELD (sender_must_match_login) },
  { "queue", "dir", CONFIG_PATH, FIELD (queue_dir) },
  { "queue", "retry_min", CONFIG_SECONDS, FIELD (retry_min) },
  { "queue", "retry_max", CONFIG_SECONDS, FIELD (retry_max) },
  { "queue", "lifetime", CONFIG_SECONDS, FIELD (queue_lifetime) },
  { "relay", "dns_server", CONFIG_STRING, FIELD (dns_server) },
  { "relay", "dns_timeout", CONFIG_SECONDS, FIELD (dns_timeout) },
  { "relay", "mx_port", CONFIG_PORT, FIELD (mx_port) },
  { "relay", "delay_notice", CONFIG_SECONDS, FIELD (delay_notice) },
  { "relay", "max_connections", CONFIG_COUNT, FIELD (max_connections) },
  { "relay", "max_per_destination", CONFIG_COUNT, FIELD (max_per_destination) },
  { "pop3", "listen", CONFIG_ADDRESS, FIELD (pop3.listen) },
  { "pop3", "port", CONFIG_PORT, FIELD (pop3.port) },
  { "pop3", "pop3s_port", CONFIG_PORT, FIELD (pop3s.port) },
  { "pop3", "plaintext_auth", CONFIG_PLAINTEXT, FIELD (pop3_plaintext_auth) },
  { "imap", "listen", CONFIG_ADDRESS, FIELD (imap.listen) },
  { "imap", "port", CONFIG_PORT, FIELD (imap.port) },
  { "imap", "imaps_port", CONFIG_PORT, FIELD (imaps.port) },
  { "imap", "plaintext_auth", CONFIG_PLAINTEXT, FIELD (imap_plaintext_auth) },
};

/* [routes] has no fixed keys: each key is a destination domain. */
#define CONFIG_ROUTES_GROUP "routes"
/* [faults] is read by mail-faults.c, which knows its keys. */
#define CONFIG_FAULTS_GROUP "faults"

/* What one load is working on, so that error messages can name the file
 * and find the line of a key in the text. */
typedef struct
{
  const char *path;
  const char *text;
  const char *base_dir; /* relative paths are relative to this */
  GKeyFile *keys;
} ConfigReader;

/* ---- line numbers ----------------------------------------------------- */

/* GKeyFile does not report where a value came from, so we scan the text
 * the same way it does: "[group]" headers, then "key = value" lines.
 * Returns the line of the last definition (the one GKeyFile keeps), of the
 * group header when @key is NULL, or 0 when not found. */
static guint
config_find_line (const char *text, const char *group, const char *key)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  gboolean in_group = FALSE;
  guint found = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *line = g_strchug (lines[i]);
      const char *equals = strchr (line, '=');

      if (line[0] == '[')
        {
          g_autofree char *name = g_strndup (line + 1, strcspn (line + 1, "]"));
          in_group = strcmp (name, group) == 0;
          if (in_group && key == NULL && found == 0)
            found = i + 1;
        }
      else if (in_group && key != NULL && line[0] != '#' && equals != NULL)
        {
          g_autofree char *name = g_strndup (line, equals - line);
          if (strcmp (g_strchomp (name), key) == 0)
            found = i + 1;
        }
    }
  return found;
}

/* "FILE:LINE: " or "FILE: " when the line is unknown (transfer full). */
static char *
config_where (const ConfigReader *reader, const char *group, const char *key)
{
  guint line = config_find_line (reader->text, group, key);

  if (line == 0)
    return g_strdup_printf ("%s: ", reader->path);
  return g_strdup_printf ("%s:%u: ", reader->path, line);
}

static void
config_set_value_error (const ConfigReader *reader,
                        const ConfigKey *key,
                        const char *expected,
                        const char *got,
                        GError **error)
{
  g_autofree char *where = config_where (reader, key->group, key->key);

  g_set_error (error, MAIL_CONFIG_ERROR, MAIL_CONFIG_ERROR_VALUE,
               "%s[%s] %s: expected %s, got '%s'", where, key->group, key->key,
               expected, got);
}

/* ---- value parsers ---------------------------------------------------- */

static gboolean
config_parse_boolean (const char *text, gboolean *out_value)
{
  static const char *const yes[] = { "true", "yes", "on", "1" };
  static const char *const no[] = { "false", "no", "off", "0" };

  for (gsize i = 0; i < G_N_ELEMENTS (yes); i++)
    {
      if (g_ascii_strcasecmp (text, yes[i]) == 0)
        {
          *out_value = TRUE;
          return TRUE;
        }
      if (g_ascii_strcasecmp (text, no[i]) == 0)
        {
          *out_value = FALSE;
          return TRUE;
        }
    }
  return FALSE;
}

static gboolean
config_parse_port (const char *text, int *out_port)
{
  gint64 value = 0;

  if (!g_ascii_string_to_signed (text, 10, -1, 65535, &value, NULL))
    return FALSE;
  *out_port = (int) value;
  return TRUE;
}

static gboolean
config_parse_count (const char *text, guint *out_value)
{
  guint64 value = 0;

  if (!g_ascii_string_to_unsigned (text, 10, 1, G_MAXUINT, &value, NULL))
    return FALSE;
  *out_value = (guint) value;
  return TRUE;
}

/* "52428800", "51200K", "50M" or "1G" (binary multiples). */
static gboolean
config_parse_size (const char *text, guint64 *out_value)
{
  g_autofree char *digits = g_strdup (text);
  gsize length = strlen (digits);
  guint shift = 0;
  guint64 value = 0;

  if (length > 0 && strchr ("KkMmGg", digits[length - 1]) != NULL)
    {
      char suffix = g_ascii_toupper (digits[length - 1]);
      shift = suffix == 'K' ? 10 : suffix == 'M' ? 20 : 30;
      digits[length - 1] = '\0';
    }
  if (!g_ascii_string_to_unsigned (digits, 10, 1, G_MAXUINT64 >> shift, &value,
                                   NULL))
    return FALSE;
  *out_value = value << shift;
  return TRUE;
}

static gboolean
config_parse_plaintext (const char *text, MailPlaintextAuth *out_value)
{
  static const char *const names[] = { "never", "loopback", "always" };

  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    if (g_ascii_strcasecmp (text, names[i]) == 0)
      {
        *out_value = (MailPlaintextAuth) i;
        return TRUE;
      }
  return FALSE;
}

/* RFC 1035 §2.3.1 letters, digits and hyphens, plus dots between labels;
 * good enough to catch a stray comma or space. */
static gboolean
config_is_domain (const char *text)
{
  if (text[0] == '\0' || text[0] == '.' || strlen (text) > 253)
    return FALSE;
  for (const char *p = text; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '.')
      return FALSE;
  return strstr (text, "..") == NULL;
}

/* Domains separated by ';' (GKeyFile's list separator), ',' or spaces,
 * lower-cased. NULL when one of them is not a domain name. */
static GStrv
config_parse_domains (const char *text)
{
  g_auto (GStrv) words = g_strsplit_set (text, ";, \t", -1);
  g_autoptr (GPtrArray) domains = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; words[i] != NULL; i++)
    {
      if (words[i][0] == '\0')
        continue;
      if (!config_is_domain (words[i]))
        return NULL;
      g_ptr_array_add (domains, g_ascii_strdown (words[i], -1));
    }
  if (domains->len == 0)
    return NULL;
  g_ptr_array_add (domains, NULL);
  return (GStrv) g_ptr_array_free (g_steal_pointer (&domains), FALSE);
}

static char *
config_resolve_path (const char *base_dir, const char *path)
{
  return g_canonicalize_filename (path, base_dir);
}

/* ---- one key ---------------------------------------------------------- */

/* Reads @text as @key->kind into its field; FALSE if it does not parse.
 * @text is the unescaped value. */
static gboolean
config_store_value (const ConfigReader *reader,
                    const ConfigKey *key,
                    const char *text,
                    MailConfig *config)
{
  void *field = (char *) config + key->offset;
  char **string_field = field;

  switch (key->kind)
    {
    case CONFIG_STRING:
      if (text[0] == '\0' || strpbrk (text, " \t") != NULL)
        return FALSE;
      g_free (*string_field);
      *string_field = g_strdup (text);
      return TRUE;
    case CONFIG_ADDRESS:
      if (!g_hostname_is_ip_address (text))
        return FALSE;
      g_free (*string_field);
      *string_field = g_strdup (text);
      return TRUE;
    case CONFIG_PATH:
      if (text[0] == '\0')
        return FALSE;
      g_free (*string_field);
      *string_field = config_resolve_path (reader->base_dir, text);
      return TRUE;
    case CONFIG_DOMAINS:
      {
        GStrv domains = config_parse_domains (text);
        if (domains == NULL)
          return FALSE;
        g_strfreev (*(GStrv *) field);
        *(GStrv *) field = domains;
        return TRUE;
      }
    case CONFIG_BOOLEAN:
      return config_parse_boolean (text, field);
    case CONFIG_PORT:
      return config_parse_port (text, field);
    case CONFIG_SECONDS:
    case CONFIG_COUNT:
      return config_parse_count (text, field);
    case CONFIG_SIZE:
      return config_parse_size (text, field);
    case CONFIG_PLAINTEXT:
      return config_parse_plaintext (text, field);
    default:
      g_assert_not_reached ();
    }
}

/* The "expected ..." part of the error for a value of @kind. */
static const char *
config_kind_expected (ConfigKind kind)
{
  switch (kind)
    {
    case CONFIG_STRING:
      return "a non-empty word";
    case CONFIG_ADDRESS:
      return "an IP address such as 127.0.0.1 or ::1";
    case CONFIG_PATH:
      return "a file name";
    case CONFIG_DOMAINS:
      return "a list of domain names separated by ';'";
    case CONFIG_BOOLEAN:
      return "true or false";
    case CONFIG_PORT:
      return "a port number 0-65535 or -1";
    case CONFIG_SECONDS:
      return "a positive number of seconds";
    case CONFIG_COUNT:
      return "a positive number";
    case CONFIG_SIZE:
      return "a size in bytes (suffix K, M or G allowed)";
    case CONFIG_PLAINTEXT:
      return "never, loopback or always";
    default:
      g_assert_not_reached ();
    }
}

static const ConfigKey *
config_key_find (const char *group, const char *key)
{
  for (gsize i = 0; i < G_N_ELEMENTS (config_keys); i++)
    if (strcmp (config_keys[i].group, group) == 0 &&
        strcmp (config_keys[i].key, key) == 0)
      return &config_keys[i];
  return NULL;
}

static gboolean
config_group_is_known (const char *group)
{
  if (strcmp (group, CONFIG_ROUTES_GROUP) == 0 ||
      strcmp (group, CONFIG_FAULTS_GROUP) == 0)
    return TRUE;
  for (gsize i = 0; i < G_N_ELEMENTS (config_keys); i++)
    if (strcmp (config_keys[i].group, group) == 0)
      return TRUE;
  return FALSE;
}

static gboolean
config_read_key (const ConfigReader *reader,
                 const char *group,
                 const char *name,
                 MailConfig *config,
                 GError **error)
{
  const ConfigKey *key = config_key_find (group, name);
  g_autofree char *text = NULL;
  g_autofree char *where = NULL;

  if (key == NULL)
    {
      where = config_where (reader, group, name);
      g_set_error (error, MAIL_CONFIG_ERROR, MAIL_CONFIG_ERROR_UNKNOWN,
                   "%sunknown key '%s' in group [%s]", where, name, group);
      return FALSE;
    }
  text = g_key_file_get_string (reader->keys, group, name, NULL);
  if (text == NULL)
    text = g_key_file_get_value (reader->keys, group, name, NULL);
  g_strstrip (text);
  if (!config_store_value (reader, key, text, config))
    {
      config_set_value_error (reader, key, config_kind_expected (key->kind),
                              text, error);
      return FALSE;
    }
  return TRUE;
}

/* ---- [routes] --------------------------------------------------------- */

/* "host:port", "[v6 address]:port" or a bare "host" (the relay then uses
 * port 25, RFC 5321 §4.5.4). The port is parsed here rather than with
 * mail-net so that the config reader depends on nothing else. */
static gboolean
config_is_next_hop (const char *text)
{
  const char *host_end = text;
  const char *colon = NULL;
  guint64 port = 0;

  if (text[0] == '[')
    {
      host_end = strchr (text, ']');
      if (host_end == NULL || host_end == text + 1)
        return FALSE;
      colon = host_end[1] == ':' ? host_end + 1 : NULL;
      if (host_end[1] != '\0' && colon == NULL)
        return FALSE;
    }
  else
    {
      colon = strchr (text, ':');
      if (colon != NULL && strchr (colon + 1, ':') != NULL)
        return FALSE; /* an IPv6 literal must be in brackets */
      if (colon == text || text[0] == '\0')
        return FALSE;
    }
  if (strpbrk (text, " \t") != NULL)
    return FALSE;
  if (colon == NULL)
    return TRUE;
  return g_ascii_string_to_unsigned (colon + 1, 10, 1, 65535, &port, NULL);
}

static gboolean
config_read_routes (const ConfigReader *reader,
                    MailConfig *config,
                    GError **error)
{
  g_auto (GStrv) domains =
      g_key_file_get_keys (reader->keys, CONFIG_ROUTES_GROUP, NULL, NULL);

  for (guint i = 0; domains != NULL && domains[i] != NULL; i++)
    {
      g_autofree char *hop = g_key_file_get_string (
          reader->keys, CONFIG_ROUTES_GROUP, domains[i], NULL);
      ConfigKey key = { CONFIG_ROUTES_GROUP, domains[i], CONFIG_STRING, 0 };

      if (!config_is_domain (domains[i]))
        {
          config_set_value_error (reader, &key, "a domain name as the key",
                                  domains[i], error);
          return FALSE;
        }
      /* not UTF-8: the octets as written, refused just below */
      if (hop == NULL)
        hop = g_key_file_get_value (reader->keys, CONFIG_ROUTES_GROUP,
                                    domains[i], NULL);
      g_strstrip (hop);
      if (!config_is_next_hop (hop))
        {
          config_set_value_error (reader, &key, "HOST:PORT", hop, error);
          return FALSE;
        }
      g_hash_table_replace (config->routes, g_ascii_strdown (domains[i], -1),
                            g_steal_pointer (&hop));
    }
  return TRUE;
}

/* ---- [faults] --------------------------------------------------------- */

static gboolean
config_read_faults (const ConfigReader *reader,
                    MailConfig *config,
                    GError **error)
{
  g_auto (GStrv) keys =
      g_key_file_get_keys (reader->keys, CONFIG_FAULTS_GROUP, NULL, NULL);

  config->faults = mail_faults_new ();
  for (guint i = 0; keys != NULL && keys[i] != NULL; i++)
    {
      g_autofree char *value = g_key_file_get_string (
          reader->keys, CONFIG_FAULTS_GROUP, keys[i], NULL);
      g_autoptr (GError) local_error = NULL;

      if (value == NULL)
        value = g_key_file_get_value (reader->keys, CONFIG_FAULTS_GROUP,
                                      keys[i], NULL);
      if (!mail_faults_set (config->faults, keys[i], g_strstrip (value),
                            &local_error))
        {
          g_autofree char *where =
              config_where (reader, CONFIG_FAULTS_GROUP, keys[i]);
          g_set_error (error, MAIL_CONFIG_ERROR,
                       local_error->code == MAIL_FAULTS_ERROR_KEY
                           ? MAIL_CONFIG_ERROR_UNKNOWN
                           : MAIL_CONFIG_ERROR_VALUE,
                       "%s%s", where, local_error->message);
          return FALSE;
        }
    }
  return TRUE;
}

/* ---- the whole file --------------------------------------------------- */

/* Defaults of mail-config.h for a state directory under @base_dir. */
static MailConfig *
config_new_defaults (const char *base_dir)
{
  MailConfig *config = g_new0 (MailConfig, 1);
  const char *host = g_get_host_name ();

  config->hostname = g_strdup (host != NULL && *host ? host : "localhost");
  config->domains = g_strsplit ("localhost", ";", -1);
  config->state_dir =
      config_resolve_path (base_dir, MAIL_CONFIG_DEFAULT_STATE_DIR);
  config->timeout = MAIL_CONFIG_DEFAULT_TIMEOUT;
  config->smtp.listen = g_strdup ("127.0.0.1");
  config->pop3.listen = g_strdup ("127.0.0.1");
  config->imap.listen = g_strdup ("127.0.0.1");
  config->smtp.port = MAIL_DEFAULT_SMTP_PORT;
  config->submission.port = MAIL_DEFAULT_SUBMISSION_PORT;
  config->smtps.port = MAIL_DEFAULT_SMTPS_PORT;
  config->pop3.port = MAIL_DEFAULT_POP3_PORT;
  config->pop3s.port = MAIL_DEFAULT_POP3S_PORT;
  config->imap.port = MAIL_DEFAULT_IMAP_PORT;
  config->imaps.port = MAIL_DEFAULT_IMAPS_PORT;
  config->smtp_max_size = MAIL_CONFIG_DEFAULT_MAX_SIZE;
  config->smtp_max_recipients = MAIL_CONFIG_DEFAULT_MAX_RECIPIENTS;
  config->sender_must_match_login = TRUE;
  config->retry_min = MAIL_CONFIG_DEFAULT_RETRY_MIN;
  config->retry_max = MAIL_CONFIG_DEFAULT_RETRY_MAX;
  config->queue_lifetime = MAIL_CONFIG_DEFAULT_LIFETIME;
  config->dns_timeout = MAIL_CONFIG_DEFAULT_DNS_TIMEOUT;
  config->delay_notice = MAIL_CONFIG_DEFAULT_DELAY_NOTICE;
  config->max_connections = MAIL_CONFIG_DEFAULT_MAX_CONNECTIONS;
  config->max_per_destination = MAIL_CONFIG_DEFAULT_MAX_PER_DESTINATION;
  config->mx_port = MAIL_CONFIG_DEFAULT_MX_PORT;
  config->routes =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  config->pop3_plaintext_auth = MAIL_PLAINTEXT_AUTH_LOOPBACK;
  config->imap_plaintext_auth = MAIL_PLAINTEXT_AUTH_LOOPBACK;
  return config;
}

/* Fills in what depends on other keys: paths under state_dir, and the
 * address of the TLS listeners, which share their server's "listen". */
static void
config_finish (MailConfig *config)
{
  config->submission.listen = g_strdup (config->smtp.listen);
  config->smtps.listen = g_strdup (config->smtp.listen);
  config->pop3s.listen = g_strdup (config->pop3.listen);
  config->imaps.listen = g_strdup (config->imap.listen);
  if (config->users_file == NULL)
    config->users_file = g_build_filename (config->state_dir, "users", NULL);
  if (config->mail_root == NULL)
    config->mail_root = g_build_filename (config->state_dir, "mail", NULL);
  if (config->queue_dir == NULL)
    config->queue_dir = g_build_filename (config->state_dir, "queue", NULL);
}

/* [relay] dns_server: an IPv4 address with an optional :PORT, all the
 * libc resolver's server list takes (smtp-dns.c). */
static gboolean
config_is_dns_server (const char *text)
{
  const char *colon = strchr (text, ':');
  g_autofree char *address =
      g_strndup (text, colon != NULL ? (gsize) (colon - text) : strlen (text));
  guint64 port = 0;

  if (!g_hostname_is_ip_address (address))
    return FALSE;
  return colon == NULL ||
         g_ascii_string_to_unsigned (colon + 1, 10, 1, 65535, &port, NULL);
}

/* [relay] values that a key's kind alone does not check. */
static gboolean
config_check_relay (const ConfigReader *reader,
                    const MailConfig *config,
                    GError **error)
{
  g_autofree char *where = NULL;

  if (config->dns_server != NULL && !config_is_dns_server (config->dns_server))
    {
      where = config_where (reader, "relay", "dns_server");
      g_set_error (error, MAIL_CONFIG_ERROR, MAIL_CONFIG_ERROR_VALUE,
                   "%s[relay] dns_server: expected an IPv4 address with an "
                   "optional :PORT, got '%s'",
                   where, config->dns_server);
      return FALSE;
    }
  if (config->mx_port <= 0)
    {
      where = config_where (reader, "relay", "mx_port");
      g_set_error (error, MAIL_CONFIG_ERROR, MAIL_CONFIG_ERROR_VALUE,
                   "%s[relay] mx_port: expected a port number 1-65535, got %d",
                   where, config->mx_port);
      return FALSE;
    }
  return TRUE;
}

/* Checks that need two keys at once. */
static gboolean
config_check (const ConfigReader *reader,
              const MailConfig *config,
              GError **error)
{
  if (config->retry_min > config->retry_max)
    {
      g_autofree char *where = config_where (reader, "queue", "retry_min");
      g_set_error (error, MAIL_CONFIG_ERROR, MAIL_CONFIG_ERROR_VALUE,
                   "%s[queue] retry_min (%u) is larger than retry_max (%u)",
                   where, config->retry_min, config->retry_max);
      return FALSE;
    }
  if (!config_check_relay (reader, config, error))
    return FALSE;
  if ((config->tls_cert == NULL) != (config->tls_key == NULL))
    {
      g_set_error (error, MAIL_CONFIG_ERROR, MAIL_CONFIG_ERROR_VALUE,
                   "%s: [general] tls_cert and tls_key go together: "
                   "give both or neither",
                   reader->path);
      return FALSE;
    }
  return TRUE;
}

/* GKeyFile's parse errors do not say where: find the first line that is
 * neither blank, comment, group header nor key = value. */
static void
config_set_parse_error (const char *path,
                        const char *text,
                        const GError *cause,
                        GError **error)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  gboolean in_group = FALSE;
  guint bad = 0;

  for (guint i = 0; lines[i] != NULL && bad == 0; i++)
    {
      const char *line = g_strchug (lines[i]);
      if (line[0] == '\0' || line[0] == '#')
        continue;
      if (line[0] == '[')
        in_group = TRUE;
      else if (!in_group || strchr (line, '=') == NULL)
        bad = i + 1;
    }
  if (bad == 0)
    g_set_error (error, MAIL_CONFIG_ERROR, MAIL_CONFIG_ERROR_PARSE,
                 "%s: not a key file: %s", path, cause->message);
  else
    g_set_error (error, MAIL_CONFIG_ERROR, MAIL_CONFIG_ERROR_PARSE,
                 "%s:%u: not a key file: expected '[group]', "
                 "'key = value' after a group, or a '#' comment",
                 path, bad);
}

static gboolean
config_read_groups (const ConfigReader *reader,
                    MailConfig *config,
                    GError **error)
{
  g_auto (GStrv) groups = g_key_file_get_groups (reader->keys, NULL);

  for (guint g = 0; groups[g] != NULL; g++)
    {
      g_auto (GStrv) keys = NULL;

      if (!config_group_is_known (groups[g]))
        {
          g_autofree char *where = config_where (reader, groups[g], NULL);
          g_set_error (error, MAIL_CONFIG_ERROR, MAIL_CONFIG_ERROR_UNKNOWN,
                       "%sunknown group [%s]", where, groups[g]);
          return FALSE;
        }
      if (strcmp (groups[g], CONFIG_ROUTES_GROUP) == 0)
        continue;
      if (strcmp (groups[g], CONFIG_FAULTS_GROUP) == 0)
        {
          if (!config_read_faults (reader, config, error))
            return FALSE;
          continue;
        }
      keys = g_key_file_get_keys (reader->keys, groups[g], NULL, NULL);
      for (guint k = 0; keys[k] != NULL; k++)
        if (!config_read_key (reader, groups[g], keys[k], config, error))
          return FALSE;
    }
  return config_read_routes (reader, config, error);
}

/* The absolute directory of @path (transfer full). */
static char *
config_base_dir (const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);

  return config_resolve_path (NULL, dir);
}

/* Reads every key; paths that default to the state directory are filled
 * in afterwards, whatever the order of the keys in the file. */
static gboolean
config_load_file (const char *path, MailConfig **out_config, GError **error)
{
  g_autofree char *text = NULL;
  g_autofree char *base_dir = NULL;
  g_autoptr (GKeyFile) keys = g_key_file_new ();
  g_autoptr (GError) local_error = NULL;
  g_autoptr (MailConfig) config = NULL;
  ConfigReader reader = { path, NULL, NULL, keys };

  if (!g_file_get_contents (path, &text, NULL, &local_error))
    {
      g_set_error (error, MAIL_CONFIG_ERROR, MAIL_CONFIG_ERROR_PARSE,
                   "%s: cannot read: %s", path, local_error->message);
      return FALSE;
    }
  if (!g_key_file_load_from_data (keys, text, -1, G_KEY_FILE_NONE,
                                  &local_error))
    {
      config_set_parse_error (path, text, local_error, error);
      return FALSE;
    }
  base_dir = config_base_dir (path);
  reader.text = text;
  reader.base_dir = base_dir;
  config = config_new_defaults (base_dir);
  config->path = g_strdup (path);
  if (!config_read_groups (&reader, config, error))
    return FALSE;
  config_finish (config);
  if (!config_check (&reader, config, error))
    return FALSE;
  *out_config = g_steal_pointer (&config);
  return TRUE;
}

MailConfig *
mail_config_load (const char *path, GError **error)
{
  MailConfig *config = NULL;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (path == NULL)
    {
      g_autofree char *cwd = g_get_current_dir ();
      config = config_new_defaults (cwd);
      config_finish (config);
      return config;
    }
  if (!config_load_file (path, &config, error))
    return NULL;
  return config;
}

void
mail_config_free (MailConfig *config)
{
  if (config == NULL)
    return;
  g_free (config->path);
  g_free (config->hostname);
  g_strfreev (config->domains);
  g_free (config->state_dir);
  g_free (config->users_file);
  g_free (config->mail_root);
  g_free (config->tls_cert);
  g_free (config->tls_key);
  g_free (config->tls_keylog);
  g_free (config->smtp.listen);
  g_free (config->submission.listen);
  g_free (config->smtps.listen);
  g_free (config->queue_dir);
  g_clear_pointer (&config->routes, g_hash_table_unref);
  g_free (config->dns_server);
  g_free (config->pop3.listen);
  g_free (config->pop3s.listen);
  g_free (config->imap.listen);
  g_free (config->imaps.listen);
  g_clear_pointer (&config->faults, mail_faults_free);
  g_free (config);
}

gboolean
mail_config_is_local_domain (const MailConfig *config, const char *domain)
{
  g_return_val_if_fail (config != NULL, FALSE);
  g_return_val_if_fail (domain != NULL, FALSE);

  for (guint i = 0; config->domains != NULL && config->domains[i]; i++)
    if (g_ascii_strcasecmp (config->domains[i], domain) == 0)
      return TRUE;
  return FALSE;
}

/* A maildir given in the users file wins; a relative one is relative to
 * the users file, like every other path we read. */
char *
mail_config_user_maildir (const MailConfig *config,
                          const char *user,
                          const char *users_file_maildir)
{
  g_autofree char *users_dir = NULL;

  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (user != NULL, NULL);

  if (users_file_maildir == NULL || users_file_maildir[0] == '\0')
    return g_build_filename (config->mail_root, user, "Maildir", NULL);
  users_dir = g_path_get_dirname (config->users_file);
  return config_resolve_path (users_dir, users_file_maildir);
}
