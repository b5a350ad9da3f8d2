/* SPDX-License-Identifier: MIT */
/*
 * follow.h - keep a mounted snapshot on the latest publication of a tag.
 * Private to fs/.
 */
#ifndef FS_FOLLOW_H
#define FS_FOLLOW_H

struct store;
struct fs_follow;

/**
 * Start a thread that checks every @interval_ms (0: 2 s) where tag
 * reference @ref points, and switches @st -- a snapshot opened by
 * store_ref_open(), so kept in DIR/KEY -- to each new publication.
 * Returns 0 and the handle in *out, or -1 after logging why.
 */
int fs_follow_start(struct store *st, const char *ref, unsigned interval_ms,
		    struct fs_follow **out);

/** Stop the thread and free @f.  NULL is a no-op. */
void fs_follow_stop(struct fs_follow *f);

#endif /* FS_FOLLOW_H */
