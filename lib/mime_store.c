/* Tree blob: split a message into skeleton + cut-out bodies, and back.
 *
 * Blob layout (version 1), integers as LEB128 varints:
 *   MAGIC VERSION total_size part_count
 *   part_count x { parent+1 flags header_start header_len blank_len body_len lines }
 *   cut_count  x { offset len sha256[32] }      (cut_count first)
 *   skeleton_len skeleton
 * The skeleton is the message with the cut ranges removed, so the exact
 * bytes come back by interleaving skeleton and cuts; the part table only
 * serves lookups (sections, ENVELOPE, BODYSTRUCTURE), never the rebuild. */
#include "mime_store.h"
#include "mem.h"
#include "mime.h"
#include "pool.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OFFSET ((uint64_t)1 << 48)
#define STORED_FLAGS (MIME_PART_MULTIPART | MIME_PART_MESSAGE | MIME_PART_CUT)

struct blob_part {
	uint64_t parent, flags, header_start, header_end, body_start, body_end, lines;
};

struct blob_cut {
	uint64_t offset, len;
	uint64_t skel_offset;	/* where the literal before it ends in the skeleton */
	const unsigned char *sha;
};

/* A decoded blob; pointers go into the blob itself. */
struct blob {
	uint64_t total;
	size_t part_count, cut_count;
	struct blob_part *parts;
	struct blob_cut *cuts;
	const unsigned char *skel;
	uint64_t skel_len;
};

/* ---- encoding ---- */

static void put_varint(struct buffer *b, uint64_t v)
{
	do {
		unsigned char c = v & 0x7f;
		v >>= 7;
		buffer_append_c(b, (unsigned char)(c | (v ? 0x80 : 0)));
	} while (v);
}

static int get_varint(const unsigned char **p, const unsigned char *end, uint64_t *v_r)
{
	uint64_t v = 0;
	for (unsigned int shift = 0; shift < 64; shift += 7) {
		if (*p >= end)
			return -1;
		unsigned char c = *(*p)++;
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*v_r = v;
			return 0;
		}
	}
	return -1;
}

static void hex_id(const unsigned char *sha, char *id)
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < 32; i++) {
		id[2 * i] = hex[sha[i] >> 4];
		id[2 * i + 1] = hex[sha[i] & 15];
	}
	id[MIME_STORE_ID_LEN] = '\0';
}

static bool has_filename(const struct mime_part *part)
{
	const char *f = mime_param_get(part->disposition_params, "filename");
	if (f == NULL || f[0] == '\0')
		f = mime_param_get(part->type_params, "name");
	return f != NULL && f[0] != '\0';
}

static bool should_cut(const struct mime_part *part, const struct mime_store_opts *opts)
{
	size_t len = part->body_end - part->body_start;
	if (len == 0 || (part->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE)))
		return false;
	size_t threshold = opts != NULL && opts->attachment_threshold > 0 ?
			   opts->attachment_threshold : MIME_STORE_DEFAULT_THRESHOLD;
	if (len > threshold)
		return true;
	return (opts == NULL || !opts->keep_named_bodies) && has_filename(part);
}

/* Pre-order list of the parts (indexes are pre-order). */
static void collect(struct mime_part *part, struct mime_part **list)
{
	for (; part != NULL; part = part->next) {
		list[part->index] = part;
		collect(part->children, list);
	}
}

static int cmp_id(const void *a, const void *b)
{
	const struct mime_store_attachment *x = *(struct mime_store_attachment *const *)a;
	const struct mime_store_attachment *y = *(struct mime_store_attachment *const *)b;
	int c = strcmp(x->id, y->id);
	return c != 0 ? c : (x < y ? -1 : x > y);
}

/* Keeps the first of each id (in message order) and counts the others. */
static size_t dedup(struct mime_store_attachment *atts, size_t n)
{
	if (n == 0)
		return 0;
	struct mime_store_attachment **order = xmalloc(n * sizeof(*order));
	for (size_t i = 0; i < n; i++)
		order[i] = &atts[i];
	qsort(order, n, sizeof(*order), cmp_id);
	for (size_t i = 1; i < n; i++) {
		struct mime_store_attachment *first = order[i - 1];
		while (first->count == 0)	/* already merged: find its keeper */
			first = (struct mime_store_attachment *)first->data;
		if (strcmp(first->id, order[i]->id) == 0) {
			first->count++;
			order[i]->count = 0;
			order[i]->data = (const unsigned char *)first;
		}
	}
	free(order);
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (atts[i].count > 0)
			atts[o++] = atts[i];
	}
	return o;
}

static void write_parts(struct buffer *b, struct mime_part **list, unsigned int n)
{
	put_varint(b, n);
	for (unsigned int i = 0; i < n; i++) {
		const struct mime_part *p = list[i];
		put_varint(b, p->parent == NULL ? 0 : p->parent->index + 1);
		put_varint(b, p->flags & STORED_FLAGS);
		put_varint(b, p->header_start);
		put_varint(b, p->header_end - p->header_start);
		put_varint(b, p->body_start - p->header_end);
		put_varint(b, p->body_end - p->body_start);
		put_varint(b, p->lines);
	}
}

int mime_store_split(const unsigned char *raw, size_t len,
		     const struct mime_store_opts *opts,
		     struct mime_store_split_result *result_r, const char **error_r)
{
	if ((uint64_t)len >= MAX_OFFSET) {
		*error_r = "message too large";
		return -1;
	}
	struct mime_message *msg;
	mime_parse(raw, len, &msg);
	struct mime_part **list = xcalloc(msg->part_count, sizeof(*list));
	collect(msg->root, list);

	struct mime_store_attachment *atts = xcalloc(msg->part_count, sizeof(*atts));
	struct buffer cuts = BUFFER_INIT, blob = BUFFER_INIT;
	size_t ncuts = 0, skel_len = len;
	for (unsigned int i = 0; i < msg->part_count; i++) {
		struct mime_part *p = list[i];
		if (!should_cut(p, opts))
			continue;
		unsigned char sha[32];
		size_t blen = p->body_end - p->body_start;
		EVP_Digest(raw + p->body_start, blen, sha, NULL, EVP_sha256(), NULL);
		p->flags |= MIME_PART_CUT;
		put_varint(&cuts, p->body_start);
		put_varint(&cuts, blen);
		buffer_append(&cuts, sha, sizeof(sha));
		hex_id(sha, atts[ncuts].id);
		atts[ncuts].data = raw + p->body_start;
		atts[ncuts].len = blen;
		atts[ncuts].count = 1;
		ncuts++;
		skel_len -= blen;
	}

	buffer_append_c(&blob, MIME_STORE_MAGIC);
	buffer_append_c(&blob, MIME_STORE_VERSION);
	put_varint(&blob, len);
	write_parts(&blob, list, msg->part_count);
	put_varint(&blob, ncuts);
	buffer_append(&blob, cuts.data, cuts.len);
	put_varint(&blob, skel_len);
	size_t pos = 0;
	for (unsigned int i = 0; i < msg->part_count; i++) {
		struct mime_part *p = list[i];
		if (!(p->flags & MIME_PART_CUT))
			continue;
		buffer_append(&blob, raw + pos, p->body_start - pos);
		pos = p->body_end;
	}
	buffer_append(&blob, raw + pos, len - pos);

	memset(result_r, 0, sizeof(*result_r));
	result_r->tree = (unsigned char *)buffer_steal(&blob, &result_r->tree_len);
	result_r->attachment_count = dedup(atts, ncuts);
	result_r->attachments = atts;
	buffer_free(&cuts);
	free(list);
	mime_message_free(&msg);
	return 0;
}

void mime_store_split_result_free(struct mime_store_split_result *result)
{
	free(result->tree);
	free(result->attachments);
	memset(result, 0, sizeof(*result));
}

/* ---- decoding ---- */

static void blob_free(struct blob *b)
{
	XFREE(b->parts);
	XFREE(b->cuts);
}

static int read_parts(struct blob *b, const unsigned char **p, const unsigned char *end)
{
	uint64_t n;
	/* Each part takes at least 7 bytes: bounds the allocation. */
	if (get_varint(p, end, &n) < 0 || n == 0 || n > (uint64_t)(end - *p) / 7)
		return -1;
	b->part_count = n;
	b->parts = xcalloc(n, sizeof(*b->parts));
	for (size_t i = 0; i < n; i++) {
		struct blob_part *bp = &b->parts[i];
		uint64_t hlen, blank, blen;
		if (get_varint(p, end, &bp->parent) < 0 || get_varint(p, end, &bp->flags) < 0 ||
		    get_varint(p, end, &bp->header_start) < 0 || get_varint(p, end, &hlen) < 0 ||
		    get_varint(p, end, &blank) < 0 || get_varint(p, end, &blen) < 0 ||
		    get_varint(p, end, &bp->lines) < 0)
			return -1;
		if ((i == 0) != (bp->parent == 0) || bp->parent > i ||
		    bp->header_start > b->total || hlen > b->total || blank > b->total ||
		    blen > b->total)
			return -1;
		bp->header_end = bp->header_start + hlen;
		bp->body_start = bp->header_end + blank;
		bp->body_end = bp->body_start + blen;
		if (bp->body_end > b->total)
			return -1;
	}
	return 0;
}

static int read_cuts(struct blob *b, const unsigned char **p, const unsigned char *end)
{
	uint64_t n, pos = 0, skel = 0;
	if (get_varint(p, end, &n) < 0 || n > (uint64_t)(end - *p) / 34)
		return -1;
	b->cut_count = n;
	b->cuts = xcalloc(n + 1, sizeof(*b->cuts));
	for (size_t i = 0; i < n; i++) {
		struct blob_cut *c = &b->cuts[i];
		if (get_varint(p, end, &c->offset) < 0 || get_varint(p, end, &c->len) < 0 ||
		    (uint64_t)(end - *p) < 32)
			return -1;
		c->sha = *p;
		*p += 32;
		if (c->offset < pos || c->len == 0 || c->len > b->total ||
		    c->offset > b->total - c->len)
			return -1;
		skel += c->offset - pos;
		c->skel_offset = skel;
		pos = c->offset + c->len;
	}
	b->skel_len = skel + (b->total - pos);
	return 0;
}

static int blob_decode(const unsigned char *tree, size_t tree_len, struct blob *b,
		       const char **error_r)
{
	const unsigned char *p = tree, *end = tree + tree_len;
	uint64_t skel_len;
	memset(b, 0, sizeof(*b));
	if (tree_len < 2 || tree[0] != MIME_STORE_MAGIC) {
		*error_r = "not a MIME tree blob";
		return -1;
	}
	if (tree[1] != MIME_STORE_VERSION) {
		*error_r = "unsupported MIME tree blob version";
		return -1;
	}
	p += 2;
	if (get_varint(&p, end, &b->total) < 0 || b->total >= MAX_OFFSET ||
	    read_parts(b, &p, end) < 0 || read_cuts(b, &p, end) < 0 ||
	    get_varint(&p, end, &skel_len) < 0 || skel_len != b->skel_len ||
	    skel_len != (uint64_t)(end - p)) {
		blob_free(b);
		*error_r = "corrupt MIME tree blob";
		return -1;
	}
	b->skel = p;
	return 0;
}

/* Index of the first cut ending after offset (cut_count if none). */
static size_t first_cut_after(const struct blob *b, uint64_t offset)
{
	size_t lo = 0, hi = b->cut_count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (b->cuts[mid].offset + b->cuts[mid].len <= offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Skeleton offset of a message offset that lies in literal bytes. */
static uint64_t skel_offset(const struct blob *b, size_t cut, uint64_t offset)
{
	uint64_t lit_start = cut == 0 ? 0 : b->cuts[cut - 1].offset + b->cuts[cut - 1].len;
	uint64_t skel_start = cut == 0 ? 0 : b->cuts[cut - 1].skel_offset;
	return skel_start + (offset - lit_start);
}

/* Pointer to the literal range [start, end), or NULL if a cut overlaps it. */
static const unsigned char *literal_range(const struct blob *b, uint64_t start,
					  uint64_t end)
{
	size_t c = first_cut_after(b, start);
	if (c < b->cut_count && b->cuts[c].offset < end)
		return NULL;
	return b->skel + skel_offset(b, c, start);
}

int mime_store_total_size(const unsigned char *tree, size_t tree_len,
			  size_t *size_r, const char **error_r)
{
	struct blob b;
	if (blob_decode(tree, tree_len, &b, error_r) < 0)
		return -1;
	*size_r = b.total;
	blob_free(&b);
	return 0;
}

static void add_segment(struct buffer *segs, const struct mime_store_segment *seg)
{
	buffer_append(segs, seg, sizeof(*seg));
}

static void list_segments(const struct blob *b, uint64_t start, uint64_t end,
			  struct buffer *segs)
{
	size_t c = first_cut_after(b, start);
	uint64_t pos = start;
	while (pos < end) {
		struct mime_store_segment seg;
		memset(&seg, 0, sizeof(seg));
		seg.offset = pos;
		if (c < b->cut_count && b->cuts[c].offset <= pos) {
			const struct blob_cut *cut = &b->cuts[c++];
			uint64_t stop = cut->offset + cut->len < end ? cut->offset + cut->len : end;
			seg.type = MIME_STORE_SEGMENT_ATTACHMENT;
			seg.len = stop - pos;
			seg.att_offset = pos - cut->offset;
			hex_id(cut->sha, seg.id);
		} else {
			uint64_t stop = c < b->cut_count && b->cuts[c].offset < end ?
					b->cuts[c].offset : end;
			seg.type = MIME_STORE_SEGMENT_LITERAL;
			seg.len = stop - pos;
			seg.data = b->skel + skel_offset(b, c, pos);
		}
		add_segment(segs, &seg);
		pos += seg.len;
	}
}

int mime_store_segments(const unsigned char *tree, size_t tree_len,
			size_t start, size_t len,
			struct mime_store_segment **segments_r, size_t *count_r,
			const char **error_r)
{
	struct blob b;
	if (blob_decode(tree, tree_len, &b, error_r) < 0)
		return -1;
	uint64_t s = start > b.total ? b.total : start;
	uint64_t e = len > b.total - s ? b.total : s + len;
	struct buffer segs = BUFFER_INIT;
	list_segments(&b, s, e, &segs);
	*count_r = segs.len / sizeof(struct mime_store_segment);
	*segments_r = segs.len == 0 ? NULL : (struct mime_store_segment *)buffer_steal(&segs, NULL);
	buffer_free(&segs);
	blob_free(&b);
	return 0;
}

int mime_store_join(const unsigned char *tree, size_t tree_len,
		    mime_store_fetch_cb *fetch, void *ctx,
		    struct buffer *out, const char **error_r)
{
	struct mime_store_segment *segs;
	size_t n;
	if (mime_store_segments(tree, tree_len, 0, SIZE_MAX, &segs, &n, error_r) < 0)
		return -1;
	int ret = 0;
	for (size_t i = 0; i < n && ret == 0; i++) {
		const struct mime_store_segment *s = &segs[i];
		if (s->type == MIME_STORE_SEGMENT_LITERAL) {
			buffer_append(out, s->data, s->len);
			continue;
		}
		const unsigned char *data;
		size_t dlen;
		if (fetch == NULL || fetch(ctx, s->id, &data, &dlen) < 0) {
			*error_r = "attachment cannot be read";
			ret = -1;
		} else if (dlen != s->len) {
			*error_r = "attachment has the wrong length";
			ret = -1;
		} else {
			buffer_append(out, data, dlen);
		}
	}
	free(segs);
	return ret;
}

/* ---- parts from the blob ---- */

static int load_parts(const struct blob *b, struct mime_message *msg,
		      const char **error_r)
{
	struct mime_part **list = xcalloc(b->part_count, sizeof(*list));
	struct mime_part **last = xcalloc(b->part_count, sizeof(*last));
	for (size_t i = 0; i < b->part_count; i++) {
		const struct blob_part *bp = &b->parts[i];
		struct mime_part *part = pool_alloc(msg->pool, sizeof(*part));
		list[i] = part;
		part->index = (unsigned int)i;
		part->flags = (unsigned int)(bp->flags & STORED_FLAGS);
		part->header_start = bp->header_start;
		part->header_end = bp->header_end;
		part->body_start = bp->body_start;
		part->body_end = bp->body_end;
		part->lines = bp->lines;
		part->header = literal_range(b, bp->header_start, bp->body_start);
		part->body = literal_range(b, bp->body_start, bp->body_end);
		if (part->header == NULL) {
			free(list);
			free(last);
			*error_r = "corrupt MIME tree blob: cut inside a header";
			return -1;
		}
		if (i > 0) {
			size_t pi = bp->parent - 1;
			struct mime_part *parent = list[pi];
			part->parent = parent;
			part->depth = parent->depth + 1;
			if (part->depth > MIME_MAX_DEPTH) {
				free(list);
				free(last);
				*error_r = "corrupt MIME tree blob: too deep";
				return -1;
			}
			if (last[pi] == NULL)
				parent->children = part;
			else
				last[pi]->next = part;
			last[pi] = part;
		}
		mime_part_parse_header(msg->pool, part);
		if (part->flags & MIME_PART_MULTIPART)
			part->boundary = mime_param_get(part->type_params, "boundary");
	}
	msg->root = list[0];
	msg->part_count = (unsigned int)b->part_count;
	free(list);
	free(last);
	return 0;
}

int mime_store_load(const unsigned char *tree, size_t tree_len,
		    struct mime_message **msg_r, const char **error_r)
{
	struct blob b;
	if (blob_decode(tree, tree_len, &b, error_r) < 0)
		return -1;
	struct mime_message *msg = xcalloc(1, sizeof(*msg));
	msg->pool = pool_create(8192);
	msg->size = b.total;
	int ret = load_parts(&b, msg, error_r);
	blob_free(&b);
	if (ret < 0)
		mime_message_free(&msg);
	*msg_r = msg;
	return ret;
}

int mime_store_section_range(const unsigned char *tree, size_t tree_len,
			     const char *part, enum mime_section section,
			     size_t *start_r, size_t *len_r, const char **error_r)
{
	struct mime_message *msg;
	if (mime_store_load(tree, tree_len, &msg, error_r) < 0)
		return -1;
	bool top = part == NULL || part[0] == '\0';
	struct mime_part *p = mime_part_find(msg, part);
	int ret = 0;
	if (p == NULL) {
		*error_r = "no such part";
		ret = -1;
	} else if (section == MIME_SECTION_MIME) {
		if (top) {
			*error_r = "MIME needs a part number";
			ret = -1;
		}
		*start_r = p->header_start;
		*len_r = p->body_start - p->header_start;
	} else if (section == MIME_SECTION_ALL) {
		*start_r = top ? 0 : p->body_start;
		*len_r = top ? msg->size : p->body_end - p->body_start;
	} else {
		if (!top && !((p->flags & MIME_PART_MESSAGE) && p->children != NULL)) {
			*error_r = "HEADER and TEXT need a message/rfc822 part";
			ret = -1;
		} else {
			struct mime_part *m = top ? p : p->children;
			*start_r = section == MIME_SECTION_HEADER ? m->header_start : m->body_start;
			*len_r = section == MIME_SECTION_HEADER ? m->body_start - m->header_start :
				 m->body_end - m->body_start;
		}
	}
	mime_message_free(&msg);
	return ret;
}

/* ---- prepending header fields ---- */

int mime_store_prepend(const unsigned char *tree, size_t tree_len,
		       const unsigned char *fields, size_t fields_len, struct buffer *out,
		       const char **error_r)
{
	struct blob b;
	if (blob_decode(tree, tree_len, &b, error_r) < 0)
		return -1;
	uint64_t n = fields_len;
	if (b.total + n >= MAX_OFFSET) {
		blob_free(&b);
		*error_r = "message too large";
		return -1;
	}
	buffer_append_c(out, MIME_STORE_MAGIC);
	buffer_append_c(out, MIME_STORE_VERSION);
	put_varint(out, b.total + n);
	put_varint(out, b.part_count);
	for (size_t i = 0; i < b.part_count; i++) {
		const struct blob_part *bp = &b.parts[i];
		/* the new fields join the top-level header when it starts the
		 * message; everything after them moves by n */
		bool grow = i == 0 && bp->header_start == 0;
		put_varint(out, bp->parent);
		put_varint(out, bp->flags);
		put_varint(out, grow ? 0 : bp->header_start + n);
		put_varint(out, bp->header_end - bp->header_start + (grow ? n : 0));
		put_varint(out, bp->body_start - bp->header_end);
		put_varint(out, bp->body_end - bp->body_start);
		put_varint(out, bp->lines);
	}
	put_varint(out, b.cut_count);
	for (size_t i = 0; i < b.cut_count; i++) {
		put_varint(out, b.cuts[i].offset + n);
		put_varint(out, b.cuts[i].len);
		buffer_append(out, b.cuts[i].sha, 32);
	}
	put_varint(out, b.skel_len + n);
	buffer_append(out, fields, fields_len);
	buffer_append(out, b.skel, b.skel_len);
	blob_free(&b);
	return 0;
}
