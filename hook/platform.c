/* platform.c - what the platform boundary's bodies share: freeing what
 * they return, and the registry view a key names (the same in every body,
 * so written once). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "khreset.h"
#include "platform.h"

void plat_free_list(struct kh_dirent *ents, size_t n)
{
	for (size_t i = 0; ents && i < n; i++)
		free(ents[i].name);
	free(ents);
}

void plat_free_regvals(struct kh_regval *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].key);
		free(v[i].name);
		free(v[i].data);
	}
	free(v);
}

void plat_free_regraw(struct kh_regraw *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].key);
		free(v[i].name);
		free(v[i].data);
	}
}

void plat_free_hivetmp(struct kh_hivetmp *h, size_t n)
{
	for (size_t i = 0; h && i < n; i++) {
		free(h[i].dir);
		free(h[i].name);
		free(h[i].temp);
	}
	free(h);
}

void plat_free_source_os(struct kh_source_os *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++) {
		free(list[i].key);
		free(list[i].build);
		free(list[i].product);
	}
	free(list);
}

enum kh_regview plat_reg_view_of(const char *key, char *plain, size_t size)
{
	static const char pre[] = "hklm32";
	size_t i;

	for (i = 0; pre[i]; i++)
		if (key[i] != pre[i] && key[i] != pre[i] - ('a' <= pre[i] ? 'a' - 'A' : 0))
			break;
	if (pre[i] || (key[i] != '\\' && key[i] != '/') || !key[++i]) {
		if ((size_t)snprintf(plain, size, "%s", key) >= size && size)
			plain[0] = '\0';
		return KH_VIEW_64;
	}
	if ((size_t)snprintf(plain, size, "HKLM\\%s", key + i) >= size && size)
		plain[0] = '\0';
	return KH_VIEW_32;
}

#ifdef _WIN32
/* The live body has no streamed write of its own yet: the pieces are
 * gathered in memory and written whole (hook/win32/files.c may take this
 * over with a temp file written as it comes). */
struct gather {
	char *s;
	size_t n, cap;
};

static int put_mem(void *ctx, const void *buf, size_t len)
{
	struct gather *g = ctx;

	if (g->n + len > g->cap) {
		size_t cap = g->cap ? g->cap : 65536;
		char *s;

		while (cap < g->n + len)
			cap *= 2;
		if (!(s = realloc(g->s, cap)))
			return KH_ERR_NOMEM;
		g->s = s;
		g->cap = cap;
	}
	memcpy(g->s + g->n, buf, len);
	g->n += len;
	return KH_OK;
}

int plat_write_stream(kh_plat *p, const char *path, int durable, kh_fill_fn fill, void *ud)
{
	struct gather g = { 0 };
	int rc = fill(put_mem, &g, ud);

	if (rc == KH_OK)
		rc = durable ? plat_write_atomic(p, path, g.s ? g.s : "", g.n)
			     : plat_write_replace(p, path, g.s ? g.s : "", g.n);
	free(g.s);
	return rc;
}
#endif
