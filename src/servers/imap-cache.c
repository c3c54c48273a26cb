/* SPDX-License-Identifier: MIT
 * imap-cache.c: the per-folder cache of ENVELOPE, BODY and BODYSTRUCTURE
 * (RFC 9051 §7.5.2) and of the message header (RFC 5322 §2.1) for
 * SEARCH; the file format and the rules are in imap-cache.h.
 */
#include "imap-cache.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imap-message-private.h"

#define IMAP_CACHE_MAGIC "mailwire-imap-cache"
/* Raise it when the format of the lines, or what they are computed from,
 * changes. 2: a message holding NUL is described as stored (version 1
 * described it with those parts in base64). */
#define IMAP_CACHE_VERSION 3 /* 3: the address fields' search text */
/* The slot of the message header, after the FETCH items; then those of
 * the text SEARCH FROM, TO, CC and BCC look in (RFC 9051 §6.4.4). */
#define IMAP_CACHE_HEADER IMAP_CACHE_N_ITEMS
#define IMAP_CACHE_ADDRESS (IMAP_CACHE_HEADER + 1)
#define IMAP_CACHE_N_ADDRESSES 4
#define IMAP_CACHE_N_SLOTS (IMAP_CACHE_ADDRESS + IMAP_CACHE_N_ADDRESSES)
/* check, name, size, the header and the FETCH items */
#define IMAP_CACHE_FIELDS (3 + IMAP_CACHE_N_SLOTS)
/* A larger file (some 700,000 messages of 1.5 KiB each) is not read:
 * memory may lack, and reading it would cost more than it saves. */
#define IMAP_CACHE_MAX_FILE_SIZE (G_GINT64_CONSTANT (1) << 30)

/* The items of one message, computed from octets of this size: those
 * computed here, and its line of a file read, which is taken apart only
 * when an item is asked for (a session that asks for BODYSTRUCTURE
 * unescapes no ENVELOPE). */
typedef struct
{
  guint64 size;
  GBytes *items[IMAP_CACHE_N_SLOTS]; /* by slot: FETCH items, header */
  GBytes *file;                      /* holds the line, or NULL */
  const char *line;                  /* without its LF; NULL: none */
  gsize line_length;
  gboolean line_checked; /* its check matched the rest of it */
} ImapCacheEntry;

/* Which file was last read or written: a writer renames a new file into
 * place, so another inode (or size, or time) means someone else wrote. */
typedef struct
{
  dev_t device;
  ino_t inode;
  off_t size;
  gint64 mtime_ns;
} ImapCacheFileId;

struct _ImapCache
{
  char *dir;
  char *path;
  GHashTable *entries; /* base name -> ImapCacheEntry */
  ImapCacheFileId seen;
  gboolean dirty; /* entries added since the last write */
};

static void
imap_cache_entry_free (gpointer data)
{
  ImapCacheEntry *entry = data;

  for (guint i = 0; i < IMAP_CACHE_N_SLOTS; i++)
    g_clear_pointer (&entry->items[i], g_bytes_unref);
  g_clear_pointer (&entry->file, g_bytes_unref);
  g_free (entry);
}

char *
imap_cache_folder_dir (const MailMessage *message)
{
  g_autofree char *subdir = NULL;

  g_return_val_if_fail (message != NULL && message->path != NULL, NULL);
  subdir = g_path_get_dirname (message->path);
  return g_path_get_dirname (subdir);
}

ImapCache *
imap_cache_new (const char *dir)
{
  ImapCache *cache = g_new0 (ImapCache, 1);

  g_return_val_if_fail (dir != NULL, NULL);
  cache->dir = g_strdup (dir);
  cache->path = g_build_filename (dir, IMAP_CACHE_FILE_NAME, NULL);
  cache->entries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          imap_cache_entry_free);
  return cache;
}

void
imap_cache_free (ImapCache *cache)
{
  if (cache == NULL)
    return;
  g_free (cache->dir);
  g_free (cache->path);
  g_hash_table_unref (cache->entries);
  g_free (cache);
}

const char *
imap_cache_get_dir (ImapCache *cache)
{
  return cache->dir;
}

/* ---- the items -------------------------------------------------------- */

/* The address fields whose text has a slot, in slot order. */
static const char *const imap_cache_addresses[IMAP_CACHE_N_ADDRESSES] = {
  "From",
  "To",
  "Cc",
  "Bcc",
};

/* The slot of address field @field (any case), or -1. */
static int
imap_cache_address_slot (const char *field)
{
  for (guint i = 0; i < IMAP_CACHE_N_ADDRESSES; i++)
    if (g_ascii_strcasecmp (field, imap_cache_addresses[i]) == 0)
      return (int) (IMAP_CACHE_ADDRESS + i);
  return -1;
}

/* An address slot holds "+" and the text of the fields
 * (imap_message_get_address_text ()), or "-" when the message has no
 * such field: an empty slot is one not computed yet. */
static GBytes *
imap_cache_address_value (const char *text)
{
  g_autofree char *value = g_strconcat (text ? "+" : "-", text, NULL);

  return g_bytes_new_take (g_steal_pointer (&value),
                           strlen (text ? text : "") + 1);
}

/* What goes in @slot for @parsed, as FETCH sends it, or for the header
 * slot the octets of the top-level header as shown (transfer full). */
static GBytes *
imap_cache_compute (ImapMessage *parsed, guint slot)
{
  g_autoptr (GString) text = g_string_new (NULL);

  if (slot >= IMAP_CACHE_ADDRESS)
    {
      g_autofree char *addresses = imap_message_get_address_text (
          parsed, imap_cache_addresses[slot - IMAP_CACHE_ADDRESS]);

      return imap_cache_address_value (addresses);
    }
  if (slot == IMAP_CACHE_HEADER)
    {
      gsize end = imap_message_get_header_end (parsed);

      return g_bytes_new (parsed->octets, end);
    }
  if (slot == IMAP_CACHE_ENVELOPE)
    imap_message_append_envelope (parsed, text);
  else
    imap_message_append_bodystructure (parsed, text,
                                       slot == IMAP_CACHE_BODYSTRUCTURE);
  return g_bytes_new (text->str, text->len);
}

/* The field of a line that holds @slot: the header comes first, as it is
 * asked for least. */
static guint
imap_cache_field_of (guint slot)
{
  return slot == IMAP_CACHE_HEADER  ? 3
         : slot < IMAP_CACHE_HEADER ? 4 + slot
                                    : 3 + slot;
}

/* The slot that field @field (3 and on) of a line holds. */
static guint
imap_cache_slot_of (guint field)
{
  return field == 3                       ? IMAP_CACHE_HEADER
         : field < 4 + IMAP_CACHE_N_ITEMS ? field - 4
                                          : field - 3;
}

/* The entry of @message: the one kept if it is for this size, else a
 * new, empty one in its place (transfer none). */
static ImapCacheEntry *
imap_cache_entry_for (ImapCache *cache, const MailMessage *message)
{
  ImapCacheEntry *entry = g_hash_table_lookup (cache->entries, message->name);

  if (entry != NULL && entry->size == message->size)
    return entry;
  entry = g_new0 (ImapCacheEntry, 1);
  entry->size = message->size;
  g_hash_table_replace (cache->entries, g_strdup (message->name), entry);
  return entry;
}

/* FNV-1a, 64 bits, over 8-octet (little-endian) words rather than
 * octets, folded to 32 bits: catches a damaged line, not an attacker (who
 * could write the messages as well), and checks a long line with one
 * multiplication per eight octets. */
static guint32
imap_cache_hash (guint32 seed, const char *data, gsize length)
{
  guint64 hash = G_GUINT64_CONSTANT (14695981039346656037) ^ seed;
  const guint64 prime = G_GUINT64_CONSTANT (1099511628211);

  for (; length >= 8; data += 8, length -= 8)
    {
      guint64 word;

      memcpy (&word, data, 8);
      hash = (hash ^ GUINT64_FROM_LE (word)) * prime;
    }
  for (; length > 0; data++, length--)
    hash = (hash ^ (guchar) *data) * prime;
  hash ^= hash >> 29;
  return (guint32) (hash ^ (hash >> 32));
}
#define IMAP_CACHE_HASH_SEED 2166136261u

/* Something of everything BODYSTRUCTURE and ENVELOPE look at: encoded
 * words and 8-bit text, a group, parameters, a disposition, a language,
 * a location, an MD5, quoted-printable, base64, and a message inside. */
static const char imap_cache_sample[] =
    "From: =?UTF-8?Q?J=C3=B6rg?= <joerg@example.test>\r\n"
    "To: team: a@example.test, \"B. B.\" <b@example.test>;, c@[10.0.0.1]\r\n"
    "Cc: D (comment) <d@example.test>\r\nSubject: Gr\xc3\xbc\xc3\x9f"
    "e\r\nDate: Tue, 1 Dec 2026 10:00:00 +0100\r\n"
    "In-Reply-To: <x@example.test>\r\nMessage-ID: <s@example.test>\r\n"
    "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n"
    "\r\npreamble\r\n--b1\r\n"
    "Content-Type: text/plain; charset=utf-8; format=flowed\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\nContent-Language: de\r\n"
    "\r\nSch=C3=B6n\r\n--b1\r\n"
    "Content-Type: application/pdf; name=\"r.pdf\"\r\n"
    "Content-Disposition: attachment; filename*=UTF-8''r%C3%A9.pdf\r\n"
    "Content-Transfer-Encoding: base64\r\nContent-ID: <p@example.test>\r\n"
    "Content-Description: report\r\nContent-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n"
    "Content-Location: http://example.test/r.pdf\r\n\r\nJVBERi0K\r\n--b1\r\n"
    "Content-Type: message/rfc822\r\n\r\nFrom: e@example.test\r\n"
    "Subject: inner\r\nContent-Type: multipart/alternative; boundary=b2\r\n"
    "\r\n--b2\r\nContent-Type: text/plain\r\n\r\none\r\ntwo\r\n--b2\r\n"
    "Content-Type: text/html\r\n\r\n<p>one</p>\r\n--b2--\r\n\r\n--b1--\r\n";

/* The first line of a file this code reads and writes. */
static const char *
imap_cache_header (void)
{
  static const char *header = NULL;

  if (g_once_init_enter (&header))
    {
      g_autoptr (GBytes) data =
          g_bytes_new_static (imap_cache_sample, sizeof imap_cache_sample - 1);
      g_autoptr (ImapMessage) sample = imap_message_new (data);
      guint32 hash = IMAP_CACHE_HASH_SEED;

      for (guint slot = 0; slot < IMAP_CACHE_N_SLOTS; slot++)
        {
          g_autoptr (GBytes) text = imap_cache_compute (sample, slot);

          hash = imap_cache_hash (hash, g_bytes_get_data (text, NULL),
                                  g_bytes_get_size (text));
        }
      g_once_init_leave (&header,
                         g_strdup_printf ("%s\t%d\t%08x\n", IMAP_CACHE_MAGIC,
                                          IMAP_CACHE_VERSION, hash));
    }
  return header;
}

/* ---- lines ------------------------------------------------------------ */

static void
imap_cache_escape (GString *out, const char *data, gsize length)
{
  for (gsize i = 0; i < length; i++)
    switch (data[i])
      {
      case '\\':
        g_string_append (out, "\\\\");
        break;
      case '\t':
        g_string_append (out, "\\t");
        break;
      case '\r':
        g_string_append (out, "\\r");
        break;
      case '\n':
        g_string_append (out, "\\n");
        break;
      case '\0':
        g_string_append (out, "\\0");
        break;
      default:
        g_string_append_c (out, data[i]);
      }
}

/* Appends @text[0, @length) unescaped to @out; FALSE (and @out as it
 * was) if it is not escaped as imap_cache_escape () does. */
static gboolean
imap_cache_unescape_into (GString *out, const char *text, gsize length)
{
  /* the NUL that ends plain[] is what "\\0" stands for */
  static const char escaped[] = "\\trn0", plain[] = "\\\t\r\n";
  gsize before = out->len;
  const char *end = text + length;

  while (text < end)
    {
      const char *backslash = memchr (text, '\\', end - text);
      const char *which = NULL;

      if (backslash == NULL)
        {
          g_string_append_len (out, text, end - text);
          break;
        }
      g_string_append_len (out, text, backslash - text);
      if (backslash + 1 == end ||
          (which = memchr (escaped, backslash[1], sizeof escaped - 1)) == NULL)
        {
          g_string_truncate (out, before);
          return FALSE;
        }
      g_string_append_c (out, plain[which - escaped]);
      text = backslash + 2;
    }
  return TRUE;
}

/* Where field @index of @line lies; FALSE if the line has fewer. */
static gboolean
imap_cache_line_field (const char *line,
                       gsize length,
                       guint index,
                       const char **out_start,
                       gsize *out_length)
{
  const char *end = line + length;
  const char *tab = NULL;

  for (guint i = 0; i < index; i++)
    {
      if ((tab = memchr (line, '\t', end - line)) == NULL)
        return FALSE;
      line = tab + 1;
    }
  tab = memchr (line, '\t', end - line);
  *out_start = line;
  *out_length = (tab ? tab : end) - line;
  return TRUE;
}

/* Does the line's check, "%08x", match the rest of it, and has it every
 * field? */
static gboolean
imap_cache_line_is_whole (const char *line, gsize length)
{
  guint64 value = 0;
  char check[9] = "";
  guint tabs = 0;

  if (length <= 9 || line[8] != '\t')
    return FALSE;
  memcpy (check, line, 8);
  for (const char *p = line; (p = memchr (p, '\t', line + length - p)) != NULL;
       p++)
    tabs++;
  return tabs == IMAP_CACHE_FIELDS - 1 &&
         g_ascii_string_to_unsigned (check, 16, 0, G_MAXUINT32, &value, NULL) &&
         value == imap_cache_hash (IMAP_CACHE_HASH_SEED, line + 9, length - 9);
}

/* Is @entry's line whole? Checked once; a damaged one is dropped. */
static gboolean
imap_cache_entry_check_line (ImapCacheEntry *entry)
{
  if (entry->line != NULL && !entry->line_checked)
    {
      entry->line_checked =
          imap_cache_line_is_whole (entry->line, entry->line_length);
      if (!entry->line_checked)
        {
          entry->line = NULL;
          g_clear_pointer (&entry->file, g_bytes_unref);
        }
    }
  return entry->line != NULL;
}

/* Appends @slot of @entry as its line has it; FALSE if it has not. */
static gboolean
imap_cache_entry_append_from_line (ImapCacheEntry *entry,
                                   guint slot,
                                   GString *out)
{
  const char *field = NULL;
  gsize length = 0;

  return imap_cache_entry_check_line (entry) &&
         imap_cache_line_field (entry->line, entry->line_length,
                                imap_cache_field_of (slot), &field, &length) &&
         length > 0 && imap_cache_unescape_into (out, field, length);
}

/* Takes the line apart into items (those the entry lacks), before the
 * entry is written with new ones. */
static void
imap_cache_entry_take_line (ImapCacheEntry *entry)
{
  for (guint slot = 0; slot < IMAP_CACHE_N_SLOTS; slot++)
    {
      g_autoptr (GString) text = g_string_new (NULL);

      if (entry->items[slot] == NULL &&
          imap_cache_entry_append_from_line (entry, slot, text))
        entry->items[slot] = g_bytes_new (text->str, text->len);
    }
  entry->line = NULL;
  g_clear_pointer (&entry->file, g_bytes_unref);
}

/* "<check> TAB <name> TAB <size> TAB <header> TAB <items...> LF" */
static void
imap_cache_append_line (GString *out,
                        const char *name,
                        const ImapCacheEntry *entry)
{
  g_autoptr (GString) line = g_string_new (NULL);

  if (entry->line != NULL)
    {
      /* as read: nothing was added to it */
      g_string_append_len (out, entry->line, entry->line_length);
      g_string_append_c (out, '\n');
      return;
    }
  imap_cache_escape (line, name, strlen (name));
  g_string_append_printf (line, "\t%" G_GUINT64_FORMAT, entry->size);
  for (guint field = 3; field < IMAP_CACHE_FIELDS; field++)
    {
      guint slot = imap_cache_slot_of (field);

      g_string_append_c (line, '\t');
      /* an item not asked for yet is an empty field */
      if (entry->items[slot] != NULL)
        imap_cache_escape (line, g_bytes_get_data (entry->items[slot], NULL),
                           g_bytes_get_size (entry->items[slot]));
    }
  g_string_append_printf (
      out, "%08x\t%s\n",
      imap_cache_hash (IMAP_CACHE_HASH_SEED, line->str, line->len), line->str);
}

/* Does @entry hold an item computed here? */
static gboolean
imap_cache_entry_has_items (const ImapCacheEntry *entry)
{
  for (guint slot = 0; slot < IMAP_CACHE_N_SLOTS; slot++)
    if (entry->items[slot] != NULL)
      return TRUE;
  return FALSE;
}

/* One line of @file, without its LF: kept for the message of @messages
 * (base name -> MailMessage) of the same name and size, to be taken
 * apart when asked (its check too), or nothing. @name is room for the
 * name, reused from line to line. */
static void
imap_cache_parse_line (ImapCache *cache,
                       GHashTable *messages,
                       GBytes *file,
                       GString *name,
                       const char *line,
                       gsize length)
{
  const char *field = NULL;
  gsize field_length = 0;
  const MailMessage *message = NULL;
  ImapCacheEntry *entry = NULL;
  char *end = NULL;
  guint64 size = 0;

  g_string_truncate (name, 0);
  if (!imap_cache_line_field (line, length, 1, &field, &field_length) ||
      !imap_cache_unescape_into (name, field, field_length) ||
      (message = g_hash_table_lookup (messages, name->str)) == NULL ||
      !imap_cache_line_field (line, length, 2, &field, &field_length))
    return;
  size = g_ascii_strtoull (field, &end, 10);
  if (end != field + field_length || field_length == 0 || message->size != size)
    return;
  entry = imap_cache_entry_for (cache, message);
  /* what others wrote since: a later file holds what an earlier one
   * did, and entries with new items take in only what they lack */
  if (imap_cache_entry_has_items (entry))
    {
      /* not kept: its file stays ours */
      ImapCacheEntry read = { size, { NULL }, NULL, line, length, FALSE };

      for (guint slot = 0; slot < IMAP_CACHE_N_SLOTS; slot++)
        {
          g_autoptr (GString) text = g_string_new (NULL);

          if (entry->items[slot] == NULL &&
              imap_cache_entry_append_from_line (&read, slot, text))
            entry->items[slot] = g_bytes_new (text->str, text->len);
        }
      return;
    }
  g_clear_pointer (&entry->file, g_bytes_unref);
  entry->file = g_bytes_ref (file);
  entry->line = line;
  entry->line_length = length;
  entry->line_checked = FALSE;
}

/* ---- the file --------------------------------------------------------- */

static void
imap_cache_file_id (const struct stat *st, ImapCacheFileId *out_id)
{
  out_id->device = st->st_dev;
  out_id->inode = st->st_ino;
  out_id->size = st->st_size;
  out_id->mtime_ns =
      (gint64) st->st_mtim.tv_sec * G_GINT64_CONSTANT (1000000000) +
      st->st_mtim.tv_nsec;
}

static gboolean
imap_cache_file_id_equal (const ImapCacheFileId *a, const ImapCacheFileId *b)
{
  return a->device == b->device && a->inode == b->inode && a->size == b->size &&
         a->mtime_ns == b->mtime_ns;
}

/* Up to @size octets from @fd (transfer full), NULL if no memory. */
static GBytes *
imap_cache_read_all (int fd, gsize size)
{
  g_autofree char *data = g_try_malloc (size);
  gsize done = 0;

  while (data != NULL && done < size)
    {
      gssize got = read (fd, data + done, size - done);

      if (got < 0 && errno == EINTR)
        continue;
      if (got <= 0)
        break;
      done += (gsize) got;
    }
  return data ? g_bytes_new_take (g_steal_pointer (&data), done) : NULL;
}

/* The file's octets (transfer full), unless it is the one last seen or
 * cannot be read: then NULL. Notes it as seen. */
static GBytes *
imap_cache_read_if_new (ImapCache *cache)
{
  int fd = open (cache->path, O_RDONLY | O_CLOEXEC);
  GBytes *file = NULL;
  ImapCacheFileId id = { 0 };
  struct stat st;

  if (fd < 0)
    return NULL;
  if (fstat (fd, &st) == 0 && S_ISREG (st.st_mode) &&
      st.st_size <= IMAP_CACHE_MAX_FILE_SIZE)
    {
      imap_cache_file_id (&st, &id);
      if (!imap_cache_file_id_equal (&id, &cache->seen))
        {
          cache->seen = id;
          file = imap_cache_read_all (fd, (gsize) st.st_size);
        }
    }
  close (fd);
  return file;
}

/* Name -> message for the messages of @folder (transfer full; the
 * messages are the folder's, valid until its next sync). */
static GHashTable *
imap_cache_folder_messages (MailFolder *folder)
{
  GHashTable *messages = g_hash_table_new (g_str_hash, g_str_equal);
  guint count = mail_folder_get_count (folder);

  for (guint i = 0; i < count; i++)
    {
      const MailMessage *message = mail_folder_get_message (folder, i);

      g_hash_table_insert (messages, message->name, (gpointer) message);
    }
  return messages;
}

void
imap_cache_refresh (ImapCache *cache, MailFolder *folder)
{
  g_autoptr (GBytes) file = NULL;
  g_autoptr (GHashTable) messages = NULL;
  g_autoptr (GString) name = NULL;
  const char *header = imap_cache_header ();
  gsize length = 0;
  const char *data = NULL;
  const char *end = NULL;

  g_return_if_fail (cache != NULL && folder != NULL);
  if ((file = imap_cache_read_if_new (cache)) == NULL)
    return;
  data = g_bytes_get_data (file, &length);
  end = data + length;
  /* another version, or not a cache at all: as if there were none */
  if (length < strlen (header) || memcmp (data, header, strlen (header)) != 0)
    return;
  messages = imap_cache_folder_messages (folder);
  name = g_string_new (NULL);
  /* the last line is cut short if it has no LF */
  for (const char *line = data + strlen (header), *lf = NULL;
       line < end && (lf = memchr (line, '\n', end - line)) != NULL;
       line = lf + 1)
    imap_cache_parse_line (cache, messages, file, name, line, lf - line);
}

/* Appends @slot of @message to @out, or returns FALSE. */
static gboolean
imap_cache_append_slot (ImapCache *cache,
                        const MailMessage *message,
                        guint slot,
                        GString *out)
{
  ImapCacheEntry *entry = NULL;
  gsize length = 0;
  const char *text = NULL;

  entry = g_hash_table_lookup (cache->entries, message->name);
  if (entry == NULL || entry->size != message->size)
    return FALSE;
  if (entry->items[slot] == NULL)
    return imap_cache_entry_append_from_line (entry, slot, out);
  text = g_bytes_get_data (entry->items[slot], &length);
  g_string_append_len (out, text, length);
  return TRUE;
}

/* Computes @slot of @message from @parsed and keeps it, unless known. */
static void
imap_cache_add_slot (ImapCache *cache,
                     const MailMessage *message,
                     guint slot,
                     ImapMessage *parsed)
{
  ImapCacheEntry *entry = imap_cache_entry_for (cache, message);
  g_autoptr (GString) known = g_string_new (NULL);

  if (entry->items[slot] != NULL ||
      imap_cache_entry_append_from_line (entry, slot, known))
    return;
  entry->items[slot] = imap_cache_compute (parsed, slot);
  cache->dirty = TRUE;
}

gboolean
imap_cache_append (ImapCache *cache,
                   const MailMessage *message,
                   ImapCacheItem item,
                   GString *out)
{
  g_return_val_if_fail (cache != NULL && message != NULL, FALSE);
  g_return_val_if_fail (item < IMAP_CACHE_N_ITEMS, FALSE);
  return imap_cache_append_slot (cache, message, item, out);
}

void
imap_cache_add (ImapCache *cache,
                const MailMessage *message,
                ImapCacheItem item,
                ImapMessage *parsed)
{
  g_return_if_fail (cache != NULL && message != NULL && parsed != NULL);
  g_return_if_fail (item < IMAP_CACHE_N_ITEMS);
  imap_cache_add_slot (cache, message, item, parsed);
}

GBytes *
imap_cache_get_header (ImapCache *cache, const MailMessage *message)
{
  /* room for a usual header at once: SEARCH asks this of every message */
  g_autoptr (GString) text = g_string_sized_new (1024);

  g_return_val_if_fail (cache != NULL && message != NULL, NULL);
  if (!imap_cache_append_slot (cache, message, IMAP_CACHE_HEADER, text))
    return NULL;
  return g_string_free_to_bytes (g_steal_pointer (&text));
}

gboolean
imap_cache_get_address (ImapCache *cache,
                        const MailMessage *message,
                        const char *field,
                        GString *out,
                        gboolean *out_present)
{
  int slot = imap_cache_address_slot (field);
  gsize before = out->len;

  g_return_val_if_fail (cache != NULL && message != NULL, FALSE);
  if (slot < 0 || !imap_cache_append_slot (cache, message, (guint) slot, out))
    return FALSE;
  /* "+text" or "-": the mark goes, the text stays */
  *out_present = out->len > before && out->str[before] == '+';
  g_string_erase (out, (gssize) before, out->len > before ? 1 : 0);
  return TRUE;
}

void
imap_cache_add_address (ImapCache *cache,
                        const MailMessage *message,
                        const char *field,
                        const char *text)
{
  int slot = imap_cache_address_slot (field);
  ImapCacheEntry *entry = NULL;

  g_return_if_fail (cache != NULL && message != NULL);
  if (slot < 0)
    return;
  entry = imap_cache_entry_for (cache, message);
  if (entry->items[slot] != NULL)
    return;
  entry->items[slot] = imap_cache_address_value (text);
  cache->dirty = TRUE;
}

void
imap_cache_add_header (ImapCache *cache,
                       const MailMessage *message,
                       ImapMessage *parsed)
{
  g_return_if_fail (cache != NULL && message != NULL && parsed != NULL);
  imap_cache_add_slot (cache, message, IMAP_CACHE_HEADER, parsed);
}

/* The file's text for the entries of @folder's messages; the cache keeps
 * only those. (transfer full) */
static GString *
imap_cache_format (ImapCache *cache, MailFolder *folder)
{
  g_autoptr (GHashTable) kept = g_hash_table_new_full (
      g_str_hash, g_str_equal, g_free, imap_cache_entry_free);
  GString *out = g_string_new (imap_cache_header ());
  guint count = mail_folder_get_count (folder);

  for (guint i = 0; i < count; i++)
    {
      const MailMessage *message = mail_folder_get_message (folder, i);
      char *name = NULL;
      ImapCacheEntry *entry = NULL;

      if (!g_hash_table_steal_extended (cache->entries, message->name,
                                        (gpointer *) &name,
                                        (gpointer *) &entry))
        continue;
      if (entry->size != message->size)
        {
          g_free (name);
          imap_cache_entry_free (entry);
          continue;
        }
      if (entry->line != NULL && imap_cache_entry_has_items (entry))
        imap_cache_entry_take_line (entry);
      g_hash_table_insert (kept, name, entry);
      imap_cache_append_line (out, name, entry);
    }
  g_hash_table_unref (cache->entries);
  cache->entries = g_steal_pointer (&kept);
  return out;
}

/* Writes all of @data to @fd; FALSE with errno set if it cannot. */
static gboolean
imap_cache_write_all (int fd, const char *data, gsize length)
{
  while (length > 0)
    {
      gssize done = write (fd, data, length);

      if (done < 0 && errno == EINTR)
        continue;
      if (done < 0)
        return FALSE;
      data += done;
      length -= (gsize) done;
    }
  return TRUE;
}

/* @text into a new file that replaces the cache file (the same inode in
 * *out_st), or FALSE with errno set. */
static gboolean
imap_cache_replace (ImapCache *cache, const GString *text, struct stat *out_st)
{
  /* in tmp/, where maildir(5) readers clean up what a crash leaves */
  g_autofree char *temp = g_build_filename (
      cache->dir, "tmp", IMAP_CACHE_FILE_NAME ".XXXXXX", NULL);
  int fd = g_mkstemp_full (temp, O_RDWR | O_CLOEXEC, 0600);
  gboolean written = FALSE;
  int saved_errno = 0;

  if (fd < 0)
    return FALSE;
  written = imap_cache_write_all (fd, text->str, text->len) &&
            fstat (fd, out_st) == 0;
  saved_errno = errno;
  if (close (fd) != 0 && written)
    {
      written = FALSE;
      saved_errno = errno;
    }
  if (written && rename (temp, cache->path) == 0)
    return TRUE;
  if (written)
    saved_errno = errno;
  g_unlink (temp);
  errno = saved_errno;
  return FALSE;
}

gboolean
imap_cache_write (ImapCache *cache, MailFolder *folder, GError **error)
{
  g_autoptr (GString) text = NULL;
  struct stat st;
  int saved_errno = 0;

  g_return_val_if_fail (cache != NULL && folder != NULL, FALSE);
  if (!cache->dirty)
    return TRUE;
  imap_cache_refresh (cache, folder);
  text = imap_cache_format (cache, folder);
  if (!imap_cache_replace (cache, text, &st))
    {
      saved_errno = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   "cannot write %s: %s", cache->path,
                   g_strerror (saved_errno));
      return FALSE;
    }
  imap_cache_file_id (&st, &cache->seen);
  cache->dirty = FALSE;
  return TRUE;
}
