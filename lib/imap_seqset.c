/* Sequence sets: a pool array of ranges, normalised in place. */
#include "imap_seqset.h"
#include "buffer.h"
#include "pool.h"

#include <stdlib.h>
#include <string.h>

/* Parses one number or "*" at *sp; 0 on success. */
static int parse_number(const char **sp, uint32_t *n_r, const char **error_r)
{
	const char *s = *sp;
	if (*s == '*') {
		*n_r = IMAP_SEQ_STAR;
		*sp = s + 1;
		return 0;
	}
	if (*s == '$') {
		*error_r = "Search result reference ($) not supported";
		return -1;
	}
	if (*s < '1' || *s > '9') {
		*error_r = *s == '0' ? "Invalid number 0 in sequence set" :
			"Invalid sequence set";
		return -1;
	}
	uint64_t n = 0;
	for (; *s >= '0' && *s <= '9'; s++) {
		n = n * 10 + (uint64_t)(*s - '0');
		if (n > UINT32_MAX) {
			*error_r = "Number too large in sequence set";
			return -1;
		}
	}
	*n_r = (uint32_t)n;
	*sp = s;
	return 0;
}

static int parse_into(const char *str, struct imap_seq_range *ranges,
		      unsigned int *count_r, const char **error_r)
{
	const char *s = str;
	unsigned int count = 0;
	*error_r = "Invalid sequence set";
	for (;;) {
		struct imap_seq_range r;
		if (parse_number(&s, &r.lo, error_r) < 0)
			return -1;
		r.hi = r.lo;
		if (*s == ':') {
			s++;
			if (parse_number(&s, &r.hi, error_r) < 0)
				return -1;
		}
		if (ranges != NULL)
			ranges[count] = r;
		count++;
		if (*s == '\0')
			break;
		if (*s != ',') {
			*error_r = "Invalid sequence set";
			return -1;
		}
		s++;
	}
	*count_r = count;
	return 0;
}

bool imap_seqset_is_valid(const char *str)
{
	unsigned int count;
	const char *error;
	return parse_into(str, NULL, &count, &error) == 0;
}

int imap_seqset_parse(struct pool *pool, const char *str, struct imap_seqset *set_r,
		      const char **error_r)
{
	unsigned int count;
	memset(set_r, 0, sizeof(*set_r));
	if (parse_into(str, NULL, &count, error_r) < 0)
		return -1;
	set_r->ranges = pool_alloc(pool, count * sizeof(*set_r->ranges));
	(void)parse_into(str, set_r->ranges, &set_r->count, error_r);
	*error_r = NULL;
	return 0;
}

static int range_cmp(const void *a, const void *b)
{
	const struct imap_seq_range *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

void imap_seqset_resolve(struct imap_seqset *set, uint32_t max)
{
	uint32_t star = max == 0 ? 1 : max;
	for (unsigned int i = 0; i < set->count; i++) {
		struct imap_seq_range *r = &set->ranges[i];
		if (r->lo == IMAP_SEQ_STAR)
			r->lo = star;
		if (r->hi == IMAP_SEQ_STAR)
			r->hi = star;
		if (r->lo > r->hi) {
			uint32_t t = r->lo;
			r->lo = r->hi;
			r->hi = t;
		}
	}
	if (set->count > 1)
		qsort(set->ranges, set->count, sizeof(*set->ranges), range_cmp);
	unsigned int out = 0;
	for (unsigned int i = 0; i < set->count; i++) {
		struct imap_seq_range r = set->ranges[i];
		if (out > 0 && (uint64_t)set->ranges[out - 1].hi + 1 >= r.lo) {
			if (r.hi > set->ranges[out - 1].hi)
				set->ranges[out - 1].hi = r.hi;
		} else {
			set->ranges[out++] = r;
		}
	}
	set->count = out;
	set->resolved = true;
}

void imap_seqset_clamp(struct imap_seqset *set, uint32_t max)
{
	unsigned int out = 0;
	for (unsigned int i = 0; i < set->count; i++) {
		struct imap_seq_range r = set->ranges[i];
		if (r.lo > max)
			continue;
		if (r.hi > max)
			r.hi = max;
		set->ranges[out++] = r;
	}
	set->count = out;
}

bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n)
{
	unsigned int lo = 0, hi = set->count;
	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		const struct imap_seq_range *r = &set->ranges[mid];
		if (n < r->lo)
			hi = mid;
		else if (n > r->hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

uint64_t imap_seqset_count(const struct imap_seqset *set)
{
	uint64_t n = 0;
	for (unsigned int i = 0; i < set->count; i++)
		n += (uint64_t)set->ranges[i].hi - set->ranges[i].lo + 1;
	return n;
}

uint32_t imap_seqset_max(const struct imap_seqset *set)
{
	return set->count == 0 ? 0 : set->ranges[set->count - 1].hi;
}

void imap_seqset_iter_init(const struct imap_seqset *set, struct imap_seqset_iter *iter)
{
	iter->idx = 0;
	iter->next = set->count > 0 ? set->ranges[0].lo : 0;
}

bool imap_seqset_next(const struct imap_seqset *set, struct imap_seqset_iter *iter,
		      uint32_t *n_r)
{
	if (iter->idx >= set->count)
		return false;
	*n_r = (uint32_t)iter->next;
	if (iter->next < set->ranges[iter->idx].hi) {
		iter->next++;
	} else if (++iter->idx < set->count) {
		iter->next = set->ranges[iter->idx].lo;
	}
	return true;
}

static void write_number(struct buffer *out, uint32_t n)
{
	if (n == IMAP_SEQ_STAR)
		buffer_append_c(out, '*');
	else
		buffer_printf(out, "%u", n);
}

void imap_seqset_write(const struct imap_seqset *set, struct buffer *out)
{
	for (unsigned int i = 0; i < set->count; i++) {
		if (i > 0)
			buffer_append_c(out, ',');
		write_number(out, set->ranges[i].lo);
		if (set->ranges[i].hi != set->ranges[i].lo) {
			buffer_append_c(out, ':');
			write_number(out, set->ranges[i].hi);
		}
	}
}
