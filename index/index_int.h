/* index/index_int.h — internals shared by the files of index/ (never included from outside).
 *
 * The schema. Every table is written once by the builder and only read afterwards.
 *   meta(key, value)            schema_version, strata_version, identity, rules_hash, complete, timings
 *   image                       one row: the image file, format, digests, manifest and config JSON
 *   source                      byte-source recipes: file(path) | range(base, off, len) |
 *                               decomp(base, comp, usize, csize) with its checkpoint rows
 *   checkpoint                  access points per decomp source (window: raw-deflate compressed)
 *   layer                       position (1 = base), digests as named and as computed, sizes,
 *                               tar_source: the source id of the layer's uncompressed tar
 *   entry                       every tar entry of every layer (whiteouts and shadowed ones too)
 *   xattr                       xattrs of entries
 *   view                        0 empty | 1..L merged after N layers | L+1..2L layer N literal
 *   node                        the tree of every view; (view, parent, name) is the key
 *   problem                     hostile or inconsistent entries, recorded, never fatal
 */
#ifndef STRATA_INDEX_INT_H
#define STRATA_INDEX_INT_H

#include "index.h"

#include <sqlite3.h>

#define INDEX_SCHEMA_SQL                                                                            \
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"                                      \
	"CREATE TABLE image(id INTEGER PRIMARY KEY CHECK (id = 1), path TEXT, format TEXT,"         \
	" digest TEXT, config_digest TEXT, ref TEXT, platform TEXT, manifest BLOB, config BLOB,"    \
	" layers INTEGER, file_size INTEGER, file_mtime_ns INTEGER);"                               \
	"CREATE TABLE source(id INTEGER PRIMARY KEY, kind TEXT NOT NULL, base INTEGER, path TEXT,"  \
	" off INTEGER, len INTEGER, comp TEXT, usize INTEGER, csize INTEGER);"                      \
	"CREATE TABLE checkpoint(source INTEGER NOT NULL, seq INTEGER NOT NULL, uoff INTEGER NOT NULL," \
	" coff INTEGER NOT NULL, bits INTEGER NOT NULL, window BLOB, PRIMARY KEY(source, seq))"     \
	" WITHOUT ROWID;"                                                                           \
	"CREATE TABLE layer(position INTEGER PRIMARY KEY, digest TEXT, diff_id TEXT, media_type TEXT," \
	" compression TEXT, compressed_size INTEGER, size INTEGER, blob_sha256 TEXT,"               \
	" tar_sha256 TEXT, digest_ok INTEGER, diff_id_ok INTEGER, location TEXT,"                  \
	" tar_source INTEGER, entries INTEGER, seekable_copy TEXT);"                                \
	"CREATE TABLE entry(id INTEGER PRIMARY KEY, layer INTEGER NOT NULL, seq INTEGER NOT NULL,"  \
	" path TEXT, raw_path BLOB NOT NULL, type TEXT NOT NULL, mode INTEGER, uid INTEGER,"        \
	" gid INTEGER, uname TEXT, gname TEXT, size INTEGER, mtime INTEGER, mtime_nsec INTEGER,"   \
	" link_target TEXT, devmajor INTEGER, devminor INTEGER, data_offset INTEGER, sha256 TEXT,"  \
	" sparse INTEGER, whiteout INTEGER);"                                                       \
	"CREATE TABLE xattr(entry INTEGER NOT NULL, name TEXT NOT NULL, value BLOB,"               \
	" PRIMARY KEY(entry, name)) WITHOUT ROWID;"                                                 \
	"CREATE TABLE view(id INTEGER PRIMARY KEY, kind TEXT NOT NULL, layer INTEGER);"             \
	"CREATE TABLE node(view INTEGER NOT NULL, parent INTEGER NOT NULL, name TEXT NOT NULL,"     \
	" ino INTEGER NOT NULL, path TEXT NOT NULL, entry INTEGER, data_entry INTEGER, type TEXT,"  \
	" nlink INTEGER, PRIMARY KEY(view, parent, name)) WITHOUT ROWID;"                           \
	"CREATE TABLE problem(id INTEGER PRIMARY KEY, layer INTEGER, entry INTEGER, path TEXT,"     \
	" kind TEXT, message TEXT);"

/* Created after the bulk inserts (faster than maintaining them row by row). */
#define INDEX_SCHEMA_INDEXES_SQL                                                                    \
	"CREATE INDEX entry_path ON entry(path);"                                                   \
	"CREATE INDEX entry_layer ON entry(layer, seq);"                                            \
	"CREATE INDEX node_ino ON node(view, ino);"

/* Notes on columns:
 *  entry.type   overlay_entry_type_name(): file, dir, symlink, hardlink, chr, blk, fifo, sock
 *  entry.path   normalised (overlay_path_normalize), NULL when the path is hostile
 *  entry.whiteout 0 none, 1 ".wh.NAME", 2 ".wh..wh..opq"
 *  entry.sha256 hex of the content for regular files with data (hard links: NULL, see node.data_entry)
 *  node.entry   the entry at that path (NULL for a synthesised directory);
 *  node.data_entry the entry whose attributes and data are shown (hard link → its target)
 *  node.type    overlay_entry_type_name() of what is shown (never hardlink)
 *  node.parent  ino of the parent directory (0 for the root, whose name is "")
 *  layer.digest_ok / diff_id_ok: 1 verified, 0 mismatch (indexed with --allow-digest-mismatch),
 *               NULL nothing to compare against
 */

#endif
