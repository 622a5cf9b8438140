/* cmd_report.c - `report PATH...`: many status documents, the fleet at a
 * glance (SPEC section 4.1).
 *
 * Design note.  Each document is parsed with jansson, reduced at once to
 * one small record (struct vm: name, verdict, outcome, why, last run,
 * backup) and freed: 10,000 documents cost 10,000 records, never 10,000
 * trees.  A file holds one document or several (JSON lines, or documents
 * one after another: json_loadb with JSON_DISABLE_EOF_CHECK walks them);
 * stdin ("-") is JSON lines.  The same VM named twice keeps its latest
 * document.  Anything that is not a khreset status document is named on
 * stderr and skipped, never fatal.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "cli.h"
#include "khreset.h"

#define DOC_MAX   (256u << 20)   /* one file, one stdin line */
#define MAX_DEPTH 32             /* folders below an operand */

/* Worst first; up to R_ACTIVATE a VM needs attention. */
enum rank { R_ERROR, R_FAILED, R_BLOCKED, R_REPAIR, R_ACTIVATE,
	    R_STAGED, R_REPAIRED, R_HEALTHY };

struct vm {
	char *name, *source, *verdict, *outcome, *mode, *why;
	char time[32], backup[32];
	int exit_code, rank;
	size_t seq;
};

struct fleet {
	struct vm *v;
	size_t n, cap, docs;
	json_t *skipped;         /* [{source, reason}] */
	int quiet;               /* -q: skips only in --json's list */
};

static const char *const verdicts[] = { "healthy", "repair", "activate", "blocked", NULL };
static const char *const outcomes[] = { "healthy", "checked", "repaired", "pending",
					"failed", "blocked", "error", NULL };

static int needs_attention(const struct vm *v) { return v->rank <= R_ACTIVATE; }

/* s for a terminal: a control character (a hostile document's escape
 * sequence) shows as '?'; padded to width w */
static void put_clean(FILE *f, const char *s, size_t w)
{
	size_t n = 0;

	for (; *s; s++, n++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
	for (; n < w; n++)
		fputc(' ', f);
}

static void skip(struct fleet *fl, const char *source, const char *fmt, ...) KH_PRINTF(3, 4);
static void skip(struct fleet *fl, const char *source, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (!fl->quiet) {
		fputs("khreset: report: ", stderr);
		put_clean(stderr, source, 0);
		fputs(": ", stderr);
		put_clean(stderr, why, 0);
		fputs(", skipped\n", stderr);
	}
	json_array_append_new(fl->skipped, json_pack("{s:s, s:s}", "source", source,
						      "reason", why));
}

static const char *str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static int is_khreset(const json_t *doc)
{
	const char *name = str(json_object_get(doc, "tool"), "name");

	return name && !strcmp(name, "khreset");
}

/* "stale keyholders in the archive: 1 outdated, 2 carried-over" */
static char *why_stale(const json_t *archive)
{
	static const char *const stale[] = { "outdated", "carried-over", "foreign", "invalid" };
	char text[256];
	const char *sep = ":";
	size_t used, n[4] = { 0 };
	const json_t *e;
	size_t i;

	json_array_foreach(archive, i, e)
		for (size_t k = 0; k < 4; k++)
			n[k] += str(e, "class") && !strcmp(str(e, "class"), stale[k]);
	used = (size_t)snprintf(text, sizeof(text), "stale keyholders in the archive");
	for (size_t k = 0; k < 4; k++) {
		if (!n[k] || used >= sizeof(text))
			continue;
		used += (size_t)snprintf(text + used, sizeof(text) - used, "%s %zu %s",
					 sep, n[k], stale[k]);
		sep = ",";
	}
	return kh_strdup(text);
}

/* Offline, after a repair: every bundle file is in Install\KeyHolder with
 * the bundle's digest, waiting for the next boot. */
static int staged(const json_t *doc)
{
	const json_t *files = json_object_get(json_object_get(doc, "bundle"), "files");
	const json_t *install = json_object_get(doc, "install"), *f, *e;
	size_t i, j;

	if (!json_array_size(files))
		return 0;
	json_array_foreach(files, i, f) {
		int found = 0;
		json_array_foreach(install, j, e)
			found |= str(e, "name") && str(f, "name") && str(e, "sha256") &&
				 str(f, "sha256") && !kh_strcasecmp(str(e, "name"), str(f, "name")) &&
				 !strcmp(str(e, "sha256"), str(f, "sha256"));
		if (!found)
			return 0;
	}
	return 1;
}

static char *why_failed(const json_t *result)
{
	const json_t *steps = json_object_get(result, "steps"), *s;
	size_t i;

	json_array_foreach(steps, i, s)
		if (json_is_false(json_object_get(s, "ok")))
			return kh_asprintf("step %s failed: %s; rolled back",
					   str(s, "step") ? str(s, "step") : "?",
					   str(s, "detail") ? str(s, "detail") : "");
	return kh_strdup("the run failed and was rolled back");
}

/* The first dirty hive the document's system lists (SPEC section 3), or
 * NULL: an offline repair of that VM waits until it was started once and
 * shut down cleanly, or for run --no-registry. */
static const char *dirty_hive(const json_t *doc)
{
	const json_t *hives = json_object_get(json_object_get(doc, "system"), "hives"), *h;
	size_t i;

	json_array_foreach(hives, i, h)
		if (json_is_true(json_object_get(h, "dirty")) && str(h, "path"))
			return str(h, "path");
	return NULL;
}

/* Rank and reason of a status document. */
static char *judge(const json_t *doc, const char *verdict, const char *outcome,
		   int offline, int *rank)
{
	const json_t *bundle = json_object_get(doc, "bundle");
	const char *lic = str(json_object_get(doc, "licence"), "status");

	*rank = R_ACTIVATE;
	if (!strcmp(outcome, "failed")) {
		*rank = R_FAILED;
		return why_failed(json_object_get(doc, "result"));
	}
	if (!strcmp(outcome, "blocked") || !strcmp(verdict, "blocked")) {
		*rank = R_BLOCKED;
		return kh_strdup("stale keyholders, but no upgrade detected "
				 "(policy.require_upgrade; run --force to repair anyway)");
	}
	if (!strcmp(outcome, "healthy") || (!strcmp(outcome, "checked") && !strcmp(verdict, "healthy"))) {
		*rank = R_HEALTHY;
		return kh_strdup("");
	}
	if (!strcmp(outcome, "repaired")) {
		*rank = R_REPAIRED;
		return kh_strdup("repaired and verified");
	}
	if (str(bundle, "error") && (!strcmp(verdict, "repair") || !strcmp(verdict, "activate"))) {
		*rank = R_REPAIR;
		return kh_asprintf("no usable bundle: %s", str(bundle, "error"));
	}
	if (offline && (!strcmp(outcome, "pending") ||
			(!strcmp(verdict, "activate") && staged(doc)))) {
		*rank = R_STAGED;
		return kh_strdup("repaired offline: takes effect at the next boot");
	}
	if (!strcmp(outcome, "pending"))
		return kh_asprintf("activation not verified yet (licence %s); the retry task "
				   "tries again", lic ? lic : "unknown");
	if (!strcmp(verdict, "repair") && dirty_hive(doc)) {
		*rank = R_REPAIR;
		return kh_asprintf("registry hive %s is dirty: start the VM once and shut it "
				   "down cleanly, or run --no-registry", dirty_hive(doc));
	}
	if (!strcmp(verdict, "repair")) {
		*rank = R_REPAIR;
		return why_stale(json_object_get(doc, "archive"));
	}
	if (!strcmp(verdict, "activate"))
		return offline ? kh_strdup("official keyholders not all in the archive yet")
			       : kh_asprintf("licence %s: activation needed", lic ? lic : "unknown");
	return kh_asprintf("verdict %s, outcome %s", verdict, outcome);
}

static int set(char **dst, const char *s)
{
	return (*dst = kh_strdup(s ? s : "")) ? KH_OK : KH_ERR_NOMEM;
}

/* A fleet tool's record of a VM that khreset could not check: no
 * verdict, {"error": {"exit_code", "message"}}. */
static char *judge_error(const json_t *err, struct vm *v)
{
	json_t *code = json_object_get(err, "exit_code");

	v->rank = R_ERROR;
	v->exit_code = (int)json_integer_value(code);
	return kh_asprintf("khreset exit %d: %s", v->exit_code,
			   str(err, "message") ? str(err, "message") : "no status document");
}

/* What makes a document a khreset status document (or error record);
 * NULL when it is one. */
static const char *foreign(const json_t *doc)
{
	const json_t *res = json_object_get(doc, "result"), *err = json_object_get(doc, "error");

	if (!json_is_object(doc))
		return "not a JSON object";
	if (!is_khreset(doc))
		return "not a khreset status document (no tool.name \"khreset\")";
	if (json_integer_value(json_object_get(doc, "schema")) != 1)
		return "not a khreset status document of schema 1";
	if (json_is_object(err) && json_is_integer(json_object_get(err, "exit_code")))
		return NULL;
	if (!str(doc, "verdict") || !str(res, "outcome"))
		return "not a khreset status document (no verdict or result.outcome)";
	return NULL;
}

static int fill(struct vm *v, const json_t *doc)
{
	const json_t *res = json_object_get(doc, "result"), *err = json_object_get(doc, "error");
	const char *verdict = str(doc, "verdict"), *outcome = str(res, "outcome");
	const char *mode = str(doc, "mode"), *time = str(doc, "time");

	snprintf(v->time, sizeof(v->time), "%s", time ? time : "");
	snprintf(v->backup, sizeof(v->backup), "%s", str(res, "backup_id") ? str(res, "backup_id") : "");
	if (!verdict || !outcome)        /* an error record (foreign() said so) */
		verdict = NULL;
	if (set(&v->mode, mode) || set(&v->verdict, verdict))
		return KH_ERR_NOMEM;
	if (!verdict) {
		v->why = judge_error(err, v);
		return set(&v->outcome, "error") || !v->why ? KH_ERR_NOMEM : KH_OK;
	}
	v->exit_code = (int)json_integer_value(json_object_get(res, "exit_code"));
	v->why = judge(doc, verdict, outcome, mode && !strcmp(mode, "offline"), &v->rank);
	return set(&v->outcome, outcome) || !v->why ? KH_ERR_NOMEM : KH_OK;
}

static void vm_free(struct vm *v)
{
	free(v->name);
	free(v->source);
	free(v->verdict);
	free(v->outcome);
	free(v->mode);
	free(v->why);
}

/* One parsed document: its record, or a named skip. */
static int add_doc(struct fleet *fl, const json_t *doc, const char *name, const char *source)
{
	const char *why = foreign(doc), *own = str(doc, "name");
	struct vm v = { 0 };

	if (why) {
		skip(fl, source, "%s", why);
		return KH_OK;
	}
	if (fl->n == fl->cap) {
		size_t cap = fl->cap ? 2 * fl->cap : 256;
		struct vm *nv = realloc(fl->v, cap * sizeof(*nv));
		if (!nv)
			return KH_ERR_NOMEM;
		fl->v = nv;
		fl->cap = cap;
	}
	v.seq = fl->docs++;
	if (set(&v.name, own && *own ? own : name) || set(&v.source, source) || fill(&v, doc)) {
		vm_free(&v);
		return KH_ERR_NOMEM;
	}
	fl->v[fl->n++] = v;
	return KH_OK;
}

static size_t skip_space(const char *s, size_t i, size_t len, size_t *line)
{
	for (; i < len && strchr(" \t\r\n", s[i]); i++)
		*line += s[i] == '\n';
	return i;
}

static size_t newlines(const char *s, size_t n)
{
	size_t k = 0;

	for (const char *e = s + n; (s = memchr(s, '\n', (size_t)(e - s))); s++)
		k++;
	return k;
}

/* Every document in buf (a file's bytes): a file of one document is named
 * name, one of several name:LINE (the line each starts on); a document
 * that is not JSON ends the file. */
static int read_buf(struct fleet *fl, const char *buf, size_t len, const char *name,
		    const char *path)
{
	size_t pos = 0, line = 1, count = 0;
	int rc = KH_OK;

	if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3))
		pos = 3;                 /* a byte order mark, as PowerShell writes */
	for (pos = skip_space(buf, pos, len, &line); rc == KH_OK && pos < len;) {
		json_error_t e;
		json_t *doc = json_loadb(buf + pos, len - pos, JSON_DISABLE_EOF_CHECK |
					 JSON_DECODE_ANY, &e);
		size_t start = line, next = doc ? pos + (size_t)e.position : len;
		int one;
		char *src, *nm;

		line += newlines(buf + pos, next - pos);
		next = skip_space(buf, next, len, &line);
		one = ++count == 1 && next >= len;
		src = one ? kh_strdup(path) : kh_asprintf("%s:%zu", path, start);
		nm = one ? kh_strdup(name) : kh_asprintf("%s:%zu", name, start);

		if (!src || !nm)
			rc = KH_ERR_NOMEM;
		else if (!doc)
			skip(fl, src, "not JSON (line %zu: %s)", start + (size_t)e.line - 1, e.text);
		else if (!json_is_object(doc))
			next = len, skip(fl, src, "not a khreset status document (a JSON %s)",
					 json_is_array(doc) ? "array" : "scalar");
		else
			rc = add_doc(fl, doc, nm, src);
		json_decref(doc);
		free(src);
		free(nm);
		pos = next;
	}
	return rc;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && !kh_strcasecmp(s + n - k, suffix);
}

/* the VM name a path stands for: without .json / .jsonl */
static char *name_of(const char *path)
{
	size_t n = strlen(path);

	n -= ends_with(path, ".jsonl") ? 6 : ends_with(path, ".json") ? 5 : 0;
	return strndup(path, n);
}

/* kh_read_host's reason, without the "PATH: " it starts with */
static const char *reason(const char *path)
{
	const char *e = kh_lasterr();
	size_t n = strlen(path);

	return !strncmp(e, path, n) && !strncmp(e + n, ": ", 2) ? e + n + 2 : e;
}

static int read_file(struct fleet *fl, const char *path, const char *shown)
{
	unsigned char *buf = NULL;
	char *name;
	size_t len = 0;
	int rc = kh_read_host(path, DOC_MAX, &buf, &len);

	if (rc == KH_ERR_NOMEM)
		return rc;
	if (rc != KH_OK) {
		skip(fl, path, "%s", reason(path));
		return KH_OK;
	}
	if (!(name = name_of(shown)))
		rc = KH_ERR_NOMEM;
	else
		rc = read_buf(fl, (const char *)buf, len, name, path);
	free(name);
	free(buf);
	return rc;
}

/* 'd' a folder, 'f' a regular file, 'l' anything else; a link is never
 * followed (Windows: no links in a fleet's report folder). */
static int kind(const char *path)
{
	struct stat st;

#ifdef _WIN32
	if (stat(path, &st) != 0)
#else
	if (lstat(path, &st) != 0)
#endif
		return 'l';
	return S_ISDIR(st.st_mode) ? 'd' : S_ISREG(st.st_mode) ? 'f' : 'l';
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in dir, sorted; "." "..", and hidden ones (temp files) left out. */
static int list_dir(const char *dir, char ***out, size_t *n)
{
	size_t cap = 0;
	struct dirent *d;
	DIR *dp = opendir(dir);
	int rc = KH_OK;

	*out = NULL;
	*n = 0;
	if (!dp)
		return KH_ERR_IO;
	while (rc == KH_OK && (d = readdir(dp))) {
		if (d->d_name[0] == '.')
			continue;
		if (*n == cap) {
			char **nv = realloc(*out, (cap ? 2 * cap : 64) * sizeof(*nv));
			if (!nv) {
				rc = KH_ERR_NOMEM;
				break;
			}
			*out = nv;
			cap = cap ? 2 * cap : 64;
		}
		if (!((*out)[*n] = kh_strdup(d->d_name)))
			rc = KH_ERR_NOMEM;
		else
			++*n;
	}
	closedir(dp);
	if (*n)
		qsort(*out, *n, sizeof(**out), cmp_str);
	return rc;
}

/* Every *.json and *.jsonl file below dir, named by its path below the
 * operand (rel, "" at the top). */
static int walk(struct fleet *fl, const char *dir, const char *rel, int depth)
{
	char **names;
	size_t n;
	int rc = list_dir(dir, &names, &n);

	if (rc == KH_ERR_IO) {
		skip(fl, dir, "cannot read the folder: %s", strerror(errno));
		return KH_OK;
	}
	for (size_t i = 0; i < n; i++) {
		char *path = kh_asprintf("%s/%s", dir, names[i]);
		char *sub = *rel ? kh_asprintf("%s/%s", rel, names[i]) : kh_strdup(names[i]);
		int k = path ? kind(path) : 0;

		if (rc != KH_OK || !path || !sub)
			rc = rc != KH_OK ? rc : KH_ERR_NOMEM;
		else if (k == 'd' && depth < MAX_DEPTH)
			rc = walk(fl, path, sub, depth + 1);
		else if (k == 'd')
			skip(fl, path, "more than %d folders deep", MAX_DEPTH);
		else if (!ends_with(names[i], ".json") && !ends_with(names[i], ".jsonl"))
			;                /* not a document's name: not ours to judge */
		else if (k == 'l')
			skip(fl, path, "not a regular file (a link is not followed)");
		else
			rc = read_file(fl, path, sub);
		free(path);
		free(sub);
		free(names[i]);
	}
	free(names);
	return rc;
}

/* The next line of f (its newline kept) into *buf; 0 at the end, -1 out of
 * memory or longer than DOC_MAX.  fgets, not getline: the Windows C
 * library has none. */
static int next_line(FILE *f, char **buf, size_t *cap, size_t *len)
{
	*len = 0;
	for (;;) {
		if (*cap - *len < 2) {
			size_t nc = *cap ? 2 * *cap : 1 << 16;
			char *nb = nc <= DOC_MAX + 2 ? realloc(*buf, nc) : NULL;
			if (!nb)
				return -1;
			*buf = nb;
			*cap = nc;
		}
		if (!fgets(*buf + *len, (int)(*cap - *len), f))
			return *len > 0;
		*len += strlen(*buf + *len);
		if ((*buf)[*len - 1] == '\n')
			return 1;
	}
}

/* stdin: JSON lines, each named "-:LINE" unless it carries a name. */
static int read_stdin(struct fleet *fl)
{
	char *line = NULL;
	size_t cap = 0, len, no = 0;
	int rc = KH_OK, got = 0;

	while (rc == KH_OK && (got = next_line(stdin, &line, &cap, &len)) > 0) {
		char tag[32];
		size_t l = 0;

		snprintf(tag, sizeof(tag), "-:%zu", ++no);
		if (skip_space(line, 0, len, &l) < len)
			rc = read_buf(fl, line, len, tag, tag);
	}
	free(line);
	if (got < 0 && rc == KH_OK) {
		kh_seterr("stdin: line %zu: longer than %u bytes, or out of memory", no + 1, DOC_MAX);
		rc = KH_ERR_DATA;
	}
	return rc;
}

/* An operand: "-" stdin, a folder (a link to one is followed: the
 * operator named it), else a file. */
static int read_operand(struct fleet *fl, const char *arg)
{
	struct stat st;

	if (!strcmp(arg, "-"))
		return read_stdin(fl);
	if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode))
		return walk(fl, arg, "", 0);
	return read_file(fl, arg, arg);
}

/* by name, then the later run, then the later read */
static int cmp_latest(const void *a, const void *b)
{
	const struct vm *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (!c)
		c = strcmp(x->time, y->time);
	return c ? c : x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int cmp_worst(const void *a, const void *b)
{
	const struct vm *x = a, *y = b;

	return x->rank != y->rank ? x->rank - y->rank : strcmp(x->name, y->name);
}

/* One record per VM, its latest document; worst first. */
static void settle(struct fleet *fl)
{
	size_t k = 0;

	if (!fl->n)
		return;
	qsort(fl->v, fl->n, sizeof(*fl->v), cmp_latest);
	for (size_t i = 0; i < fl->n; i++) {
		if (i + 1 < fl->n && !strcmp(fl->v[i].name, fl->v[i + 1].name)) {
			vm_free(&fl->v[i]);
			continue;
		}
		fl->v[k++] = fl->v[i];
	}
	fl->n = k;
	qsort(fl->v, fl->n, sizeof(*fl->v), cmp_worst);
}

/* {"healthy": 2, ...}: the known names in order (zeros too), then any
 * other seen; verdicts of error records (none) are not counted. */
static json_t *tally(const struct fleet *fl, const char *const *known, int outcome)
{
	json_t *t = json_object();

	for (size_t i = 0; known[i]; i++)
		json_object_set_new(t, known[i], json_integer(0));
	for (size_t i = 0; i < fl->n; i++) {
		const char *k = outcome ? fl->v[i].outcome : fl->v[i].verdict;
		if (*k)
			json_object_set_new(t, k, json_integer(json_integer_value(
				json_object_get(t, k)) + 1));
	}
	return t;
}

static size_t attention(const struct fleet *fl)
{
	size_t n = 0;

	for (size_t i = 0; i < fl->n; i++)
		n += needs_attention(&fl->v[i]);
	return n;
}

static const char *dash(const char *s) { return *s ? s : "-"; }

static void put_tally(const char *what, json_t *t)
{
	const char *k;
	json_t *v;
	int first = 1;

	printf("  %-9s", what);
	json_object_foreach(t, k, v) {
		printf("%s%s %lld", first ? "" : ", ", k, (long long)json_integer_value(v));
		first = 0;
	}
	putchar('\n');
	json_decref(t);
}

static void put_human(const struct fleet *fl)
{
	size_t att = attention(fl), wn = 4, wb = 6;

	printf("fleet: %zu VM%s, %zu need%s attention (%zu document%s read, %zu skipped)\n",
	       fl->n, fl->n == 1 ? "" : "s", att, att == 1 ? "s" : "", fl->docs,
	       fl->docs == 1 ? "" : "s", json_array_size(fl->skipped));
	put_tally("verdict:", tally(fl, verdicts, 0));
	put_tally("outcome:", tally(fl, outcomes, 1));
	if (!att)
		return;
	for (size_t i = 0; i < att; i++) {
		wn = strlen(fl->v[i].name) > wn ? strlen(fl->v[i].name) : wn;
		wb = strlen(fl->v[i].backup) > wb ? strlen(fl->v[i].backup) : wb;
	}
	printf("\n  %-*s  %-8s  %-8s  %-20s  %-*s  %s\n", (int)wn, "NAME", "VERDICT", "OUTCOME",
	       "LAST RUN", (int)wb, "BACKUP", "WHY");
	for (size_t i = 0; i < att; i++) {
		const struct vm *v = &fl->v[i];
		const char *col[] = { v->name, dash(v->verdict), v->outcome, dash(v->time),
				      dash(v->backup), v->why };
		const size_t w[] = { wn, 8, 8, 20, wb, 0 };

		fputs("  ", stdout);
		for (size_t k = 0; k < 6; k++) {
			put_clean(stdout, col[k], w[k]);
			fputs(k < 5 ? "  " : "\n", stdout);
		}
	}
}

static json_t *jnull(const char *s) { return *s ? json_string(s) : json_null(); }

static void put_json(const struct fleet *fl)
{
	json_t *vms = json_array(), *doc;

	for (size_t i = 0; i < fl->n; i++) {
		const struct vm *v = &fl->v[i];
		json_array_append_new(vms, json_pack("{s:s, s:o, s:s, s:b, s:s, s:o, s:o, s:i,"
			" s:o, s:s}", "name", v->name, "verdict", jnull(v->verdict), "outcome",
			v->outcome, "attention", needs_attention(v), "why", v->why, "time",
			jnull(v->time), "backup_id", jnull(v->backup), "exit_code", v->exit_code,
			"mode", jnull(v->mode), "source", v->source));
	}
	doc = json_pack("{s:i, s:{s:s, s:s}, s:I, s:O, s:I, s:o, s:o, s:o}", "schema", 1,
			"tool", "name", "khreset", "version", KH_VERSION,
			"documents", (json_int_t)fl->docs, "skipped", fl->skipped,
			"attention", (json_int_t)attention(fl), "verdicts", tally(fl, verdicts, 0),
			"outcomes", tally(fl, outcomes, 1), "vms", vms);
	json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	putchar('\n');
	json_decref(doc);
}

/* RFC 4180: quoted when it holds a comma, quote or line break */
static void csv_field(const char *s, int last)
{
	if (strpbrk(s, ",\"\r\n")) {
		putchar('"');
		for (; *s; s++) {
			if (*s == '"')
				putchar('"');
			putchar(*s);
		}
		putchar('"');
	} else
		fputs(s, stdout);
	fputs(last ? "\r\n" : ",", stdout);
}

static void put_csv(const struct fleet *fl)
{
	static const char *const head[] = { "name", "verdict", "outcome", "attention", "why",
		"last_run", "backup_id", "exit_code", "mode", "source" };

	for (size_t i = 0; i < 10; i++)
		csv_field(head[i], i == 9);
	for (size_t i = 0; i < fl->n; i++) {
		const struct vm *v = &fl->v[i];
		char code[16];
		const char *row[] = { v->name, v->verdict, v->outcome,
			needs_attention(v) ? "yes" : "no", v->why, v->time, v->backup, code,
			v->mode, v->source };
		snprintf(code, sizeof(code), "%d", v->exit_code);
		for (size_t k = 0; k < 10; k++)
			csv_field(row[k], k == 9);
	}
}

static int parse(int argc, char **argv, struct kh_globals *g, int *csv)
{
	int ch;

	while ((ch = cli_getopt(argc, argv, "report", g)) != -1) {
		if (ch != OPT_CSV)
			return cli_exit(ch);
		*csv = 1;
	}
	if (optind >= argc)
		return cli_usage_error("report", "needs PATH... (files, folders, or - for JSON "
				       "lines on stdin)");
	if (*csv && g->json)
		return cli_usage_error("report", "--json or --csv, not both");
	if (g->root || g->config)
		return cli_usage_error("report", "reads status documents; --root and --config "
				       "are not used");
	return -1;
}

int cmd_report(int argc, char **argv, struct kh_globals *g)
{
	struct fleet fl = { 0 };
	int csv = 0, ex, rc = KH_OK;

	if ((ex = parse(argc, argv, g, &csv)) != -1)
		return ex;
	fl.skipped = json_array();
	fl.quiet = g->verbosity == 0;
	for (int i = optind; rc == KH_OK && i < argc; i++)
		rc = read_operand(&fl, argv[i]);
	if (rc != KH_OK) {
		ex = cli_fail(rc, "report");
	} else if (!fl.n) {
		cli_say("report: no khreset status document among the inputs");
		ex = KH_EXIT_DATAERR;
	} else {
		settle(&fl);
		if (g->json)
			put_json(&fl);
		else if (csv)
			put_csv(&fl);
		else
			put_human(&fl);
		ex = attention(&fl) ? KH_EXIT_ATTENTION : KH_EXIT_OK;
	}
	for (size_t i = 0; i < fl.n; i++)
		vm_free(&fl.v[i]);
	free(fl.v);
	json_decref(fl.skipped);
	return ex;
}
