/* RFC 5256 threading; see imap_thread.h. The REFERENCES steps below are
 * numbered as in RFC 5256 section 3. */
#include "imap_thread.h"

#include "buffer.h"
#include "mem.h"

#include <stdlib.h>
#include <string.h>

/* ---- a string -> int map (open addressing; keys are borrowed) ---- */

struct strmap {
	const char **keys;
	int *vals;
	size_t cap;
};

static void strmap_init(struct strmap *m, size_t entries)
{
	m->cap = 16;
	while (m->cap < entries * 2)
		m->cap *= 2;
	m->keys = xcalloc(m->cap, sizeof(*m->keys));
	m->vals = xcalloc(m->cap, sizeof(*m->vals));
}

static void strmap_free(struct strmap *m)
{
	free(m->keys);
	free(m->vals);
}

static size_t strmap_slot(const struct strmap *m, const char *key)
{
	uint64_t h = 1469598103934665603ULL;
	for (const unsigned char *p = (const unsigned char *)key; *p != '\0'; p++)
		h = (h ^ *p) * 1099511628211ULL;
	size_t i = (size_t)h & (m->cap - 1);
	while (m->keys[i] != NULL && strcmp(m->keys[i], key) != 0)
		i = (i + 1) & (m->cap - 1);
	return i;
}

static int strmap_get(const struct strmap *m, const char *key)
{
	size_t i = strmap_slot(m, key);
	return m->keys[i] != NULL ? m->vals[i] : -1;
}

static void strmap_put(struct strmap *m, const char *key, int val)
{
	size_t i = strmap_slot(m, key);
	m->keys[i] = key;
	m->vals[i] = val;
}

/* ---- containers ---- */

struct node {
	int msg;		/* index into msgs; -1: a dummy */
	int parent, child, next;
	int64_t date;		/* sort key: own, or a dummy's first child's */
	uint32_t seq;
};

struct forest {
	const struct imap_thread_msg *msgs;
	struct node *nodes;
	size_t count, cap;
	int *roots;
	size_t roots_count;
};

static int node_new(struct forest *f, int msg)
{
	if (f->count == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 64;
		f->nodes = xrealloc(f->nodes, f->cap * sizeof(*f->nodes));
	}
	f->nodes[f->count] = (struct node){ .msg = msg, .parent = -1, .child = -1, .next = -1 };
	if (msg >= 0) {
		f->nodes[f->count].date = f->msgs[msg].date;
		f->nodes[f->count].seq = f->msgs[msg].seq;
	}
	return (int)f->count++;
}

static int node_for_id(struct forest *f, struct strmap *ids, const char *id)
{
	int n = strmap_get(ids, id);
	if (n < 0) {
		n = node_new(f, -1);
		strmap_put(ids, id, n);
	}
	return n;
}

/* Whether a is b or one of b's ancestors. */
static bool is_ancestor(const struct forest *f, int a, int b)
{
	for (; b >= 0; b = f->nodes[b].parent)
		if (a == b)
			return true;
	return false;
}

static void unlink_node(struct forest *f, int c)
{
	int p = f->nodes[c].parent;
	if (p < 0)
		return;
	int *link = &f->nodes[p].child;
	while (*link != c)
		link = &f->nodes[*link].next;
	*link = f->nodes[c].next;
	f->nodes[c].parent = f->nodes[c].next = -1;
}

static void link_node(struct forest *f, int p, int c)
{
	unlink_node(f, c);
	f->nodes[c].parent = p;
	f->nodes[c].next = f->nodes[p].child;
	f->nodes[p].child = c;
}

/* Step 1: a container per message and per referenced id, linked by the
 * references; a later message's own parent replaces what others implied. */
static void build(struct forest *f, size_t count, struct strmap *ids)
{
	for (int i = 0; (size_t)i < count; i++) {
		const struct imap_thread_msg *m = &f->msgs[i];
		int self = -1;
		if (m->message_id != NULL && m->message_id[0] != '\0') {
			self = node_for_id(f, ids, m->message_id);
			if (f->nodes[self].msg >= 0)
				self = -1; /* a duplicate Message-ID: a container of its own */
		}
		if (self < 0)
			self = node_new(f, i);
		f->nodes[self].msg = i;
		f->nodes[self].date = m->date;
		f->nodes[self].seq = m->seq;
		int prev = -1;
		for (size_t r = 0; r < m->refs_count; r++) {
			int ref = node_for_id(f, ids, m->refs[r]);
			if (prev >= 0 && f->nodes[ref].parent < 0 && !is_ancestor(f, ref, prev))
				link_node(f, prev, ref);
			prev = ref;
		}
		unlink_node(f, self);
		if (prev >= 0 && !is_ancestor(f, self, prev))
			link_node(f, prev, self);
	}
}

/* Step 3 below the top: dummies go, their children take their place. */
static void prune_children(struct forest *f, int p)
{
	int *link = &f->nodes[p].child;
	while (*link >= 0) {
		int c = *link;
		prune_children(f, c);
		if (f->nodes[c].msg >= 0) {
			link = &f->nodes[c].next;
			continue;
		}
		int next = f->nodes[c].next, first = f->nodes[c].child;
		if (first < 0) {
			*link = next;
			continue;
		}
		int last = first;
		for (int k = first; k >= 0; k = f->nodes[k].next) {
			f->nodes[k].parent = p;
			last = k;
		}
		f->nodes[last].next = next;
		*link = first;
		link = &f->nodes[last].next;
	}
}

/* Steps 2 and 3: the root set, without dummies that hold nothing and with
 * a dummy of one child replaced by the child. */
static void collect_roots(struct forest *f)
{
	f->roots = xcalloc(f->count + 1, sizeof(*f->roots));
	size_t candidates = 0;
	for (size_t i = 0; i < f->count; i++)
		if (f->nodes[i].parent < 0)
			f->roots[candidates++] = (int)i;
	/* in place: a promoted only child is never a candidate of its own */
	f->roots_count = 0;
	for (size_t i = 0; i < candidates; i++) {
		int r = f->roots[i];
		prune_children(f, r);
		if (f->nodes[r].msg < 0) {
			int c = f->nodes[r].child;
			if (c < 0)
				continue;
			if (f->nodes[c].next < 0) {
				f->nodes[c].parent = -1;
				f->nodes[r].child = -1;
				r = c;
			}
		}
		f->roots[f->roots_count++] = r;
	}
}

/* Steps 4 and 6: siblings by sent date then mailbox order, children
 * first; a dummy sorts by its first child. */
static int by_date(const void *pa, const void *pb, void *ctx)
{
	const struct forest *f = ctx;
	const struct node *a = &f->nodes[*(const int *)pa];
	const struct node *b = &f->nodes[*(const int *)pb];
	if (a->date != b->date)
		return a->date < b->date ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void sort_siblings(struct forest *f, int *list, size_t n);

static void sort_children(struct forest *f, int p)
{
	size_t n = 0;
	for (int c = f->nodes[p].child; c >= 0; c = f->nodes[c].next)
		n++;
	if (n == 0)
		return;
	int *list = xcalloc(n, sizeof(*list));
	n = 0;
	for (int c = f->nodes[p].child; c >= 0; c = f->nodes[c].next)
		list[n++] = c;
	sort_siblings(f, list, n);
	f->nodes[p].child = list[0];
	for (size_t i = 0; i < n; i++)
		f->nodes[list[i]].next = i + 1 < n ? list[i + 1] : -1;
	if (f->nodes[p].msg < 0) {
		f->nodes[p].date = f->nodes[list[0]].date;
		f->nodes[p].seq = f->nodes[list[0]].seq;
	}
	free(list);
}

static void sort_siblings(struct forest *f, int *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sort_children(f, list[i]);
	qsort_r(list, n, sizeof(*list), by_date, f);
}

/* ---- step 5: roots with the same base subject join ---- */

static const char *root_subject(const struct forest *f, int r)
{
	const struct node *n = &f->nodes[r];
	if (n->msg < 0)
		n = &f->nodes[n->child];
	return n->msg >= 0 ? f->msgs[n->msg].subject : NULL;
}

static bool is_dummy(const struct forest *f, int r)
{
	return f->nodes[r].msg < 0;
}

static bool is_reply(const struct forest *f, int r)
{
	return !is_dummy(f, r) && f->msgs[f->nodes[r].msg].reply;
}

static void group_subjects(struct forest *f)
{
	struct strmap subjects;
	strmap_init(&subjects, f->roots_count);
	for (size_t i = 0; i < f->roots_count; i++) {
		int r = f->roots[i];
		const char *s = root_subject(f, r);
		if (s == NULL || s[0] == '\0')
			continue;
		int e = strmap_get(&subjects, s);
		if (e < 0 || (!is_dummy(f, e) && is_dummy(f, r)) ||
		    (!is_dummy(f, e) && !is_dummy(f, r) && is_reply(f, e) && !is_reply(f, r)))
			strmap_put(&subjects, s, r);
	}
	size_t kept = 0;
	for (size_t i = 0; i < f->roots_count; i++) {
		int r = f->roots[i];
		const char *s = root_subject(f, r);
		int e = s != NULL && s[0] != '\0' ? strmap_get(&subjects, s) : r;
		if (e == r) {
			f->roots[kept++] = r;
			continue;
		}
		if (is_dummy(f, e) && is_dummy(f, r)) {
			while (f->nodes[r].child >= 0)
				link_node(f, e, f->nodes[r].child);
		} else if (is_dummy(f, e) || (is_reply(f, r) && !is_reply(f, e))) {
			link_node(f, e, r);
		} else {
			int d = node_new(f, -1);
			for (size_t k = 0; k < f->roots_count; k++)
				if (f->roots[k] == e)
					f->roots[k] = d;
			link_node(f, d, e);
			link_node(f, d, r);
			strmap_put(&subjects, s, d);
		}
	}
	f->roots_count = kept;
	strmap_free(&subjects);
}

/* ---- the answer ---- */

static void write_thread(const struct forest *f, int n, struct buffer *out)
{
	buffer_append_c(out, '(');
	bool first = true;
	for (;;) {
		const struct node *node = &f->nodes[n];
		if (node->msg >= 0) {
			buffer_printf(out, first ? "%u" : " %u", f->msgs[node->msg].number);
			first = false;
		}
		if (node->child < 0)
			break;
		if (f->nodes[node->child].next < 0) {
			n = node->child;
			continue;
		}
		if (!first)
			buffer_append_c(out, ' ');
		for (int c = node->child; c >= 0; c = f->nodes[c].next)
			write_thread(f, c, out);
		break;
	}
	buffer_append_c(out, ')');
}

void imap_thread_references(const struct imap_thread_msg *msgs, size_t count, struct buffer *out)
{
	struct forest f = { .msgs = msgs };
	size_t refs = 0;
	for (size_t i = 0; i < count; i++)
		refs += msgs[i].refs_count + 1;
	struct strmap ids;
	strmap_init(&ids, refs);
	build(&f, count, &ids);
	strmap_free(&ids);
	collect_roots(&f);
	sort_siblings(&f, f.roots, f.roots_count);
	group_subjects(&f);
	sort_siblings(&f, f.roots, f.roots_count);
	for (size_t i = 0; i < f.roots_count; i++)
		write_thread(&f, f.roots[i], out);
	free(f.roots);
	free(f.nodes);
}

/* ---- ORDEREDSUBJECT ---- */

static const char *subject_of(const struct imap_thread_msg *m)
{
	return m->subject != NULL ? m->subject : "";
}

static int by_sent(const struct imap_thread_msg *a, const struct imap_thread_msg *b)
{
	if (a->date != b->date)
		return a->date < b->date ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int by_subject(const void *pa, const void *pb, void *ctx)
{
	const struct imap_thread_msg *msgs = ctx;
	const struct imap_thread_msg *a = &msgs[*(const size_t *)pa];
	const struct imap_thread_msg *b = &msgs[*(const size_t *)pb];
	int c = strcmp(subject_of(a), subject_of(b));
	return c != 0 ? c : by_sent(a, b);
}

static int by_first(const void *pa, const void *pb, void *ctx)
{
	const struct imap_thread_msg *msgs = ctx;
	const size_t *a = pa, *b = pb; /* {first message, start, length} */
	return by_sent(&msgs[a[0]], &msgs[b[0]]);
}

void imap_thread_orderedsubject(const struct imap_thread_msg *msgs, size_t count,
				struct buffer *out)
{
	size_t *order = xcalloc(count + 1, sizeof(*order));
	size_t (*groups)[3] = xcalloc(count + 1, sizeof(*groups));
	size_t ngroups = 0;
	for (size_t i = 0; i < count; i++)
		order[i] = i;
	qsort_r(order, count, sizeof(*order), by_subject, (void *)msgs);
	for (size_t i = 0; i < count; i++) {
		if (i > 0 && strcmp(subject_of(&msgs[order[i]]), subject_of(&msgs[order[i - 1]])) == 0) {
			groups[ngroups - 1][2]++;
			continue;
		}
		groups[ngroups][0] = order[i];
		groups[ngroups][1] = i;
		groups[ngroups++][2] = 1;
	}
	qsort_r(groups, ngroups, sizeof(*groups), by_first, (void *)msgs);
	for (size_t g = 0; g < ngroups; g++) {
		size_t start = groups[g][1], n = groups[g][2];
		buffer_printf(out, "(%u", msgs[order[start]].number);
		for (size_t k = 1; k < n; k++)
			buffer_printf(out, n == 2 ? " %u" : k == 1 ? " (%u)" : "(%u)",
				      msgs[order[start + k]].number);
		buffer_append_c(out, ')');
	}
	free(groups);
	free(order);
}
