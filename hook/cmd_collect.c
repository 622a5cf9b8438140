/* cmd_collect.c - the evidence collector: `collect DIR` and `run --evidence
 * DIR` (doc/SPEC.md section 2).
 *
 * Design note.  The collector changes nothing on the system and takes no
 * lock, so it runs beside a `run`.  Every --every seconds it appends one
 * sample (what moves during a first boot: the archive and install
 * listings, the two services' state and process, the licence status per
 * SKU) to samples.jsonl; when it ends it writes once.json (what does not
 * move: the services' configuration and triggers, both registry views of
 * the configured keys and of the Status key, the KeyHolder folders' access
 * lists, the console code page at start and end) and copies khreset's logs
 * and the SetupComplete lines of setupact.log.  An item that cannot be read
 * is recorded where its value would be ({"error": "why"}), never fatal;
 * only the evidence folder itself failing stops it.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "collect.h"
#include "digest.h"
#include "khreset.h"
#include "state.h"

#define SAMPLES     "samples.jsonl"
#define ONCE        "once.json"
#define README      "README.txt"
#define SETUPACT    "Windows\\Panther\\UnattendGC\\setupact.log"
#define SETUPACT_TO "setupact-SetupComplete.log"
#define LOG_DIR     "Windows\\Logs\\khreset"
#define STATUS_KEY  "HKLM\\SOFTWARE\\khreset\\Status"
#define LOG_MAX     (8u << 20)
#define SETUPACT_MAX (64u << 20)
#define FOR_DEFAULT 60          /* seconds, without a run */
#define EVERY_DEFAULT 2
#define FINISH_WAIT 20          /* seconds a run waits for its collector */

struct kh_collector {
	kh_plat *p;                 /* borrowed */
	const struct kh_config *c;  /* borrowed */
	kh_evdir *dir;
	char *path;
	kh_child *child;            /* run --evidence, live: the collector */
	const char *how;            /* "collect", "run --evidence" */
	char *note;                 /* why the run collects in its own process */
	char *config_error;         /* the configuration could not be read */
	struct timespec t0;
	int64_t started;
	int every, for_s;
	int n;                      /* samples written */
	int unread;                 /* items recorded as errors */
	int stopped;                /* asked to stop before --for */
	json_t *cp_start;
};

static const char readme[] =
"khreset evidence folder (khreset collect, or khreset run --evidence)\n"
"====================================================================\n"
"Zip this folder whole and send it.  Nothing in it was changed on the\n"
"system: the collector only reads.\n"
"\n"
"samples.jsonl  one JSON object a line, one a sample (every --every seconds,\n"
"               and one when the collector is stopped): seq, reason (start,\n"
"               interval, stop, before-run, after-run), time, elapsed_ms;\n"
"               archive and install: the KeyHolder folders' entries (name,\n"
"               type, size, mtime, sha256; a link is listed, never followed);\n"
"               services: ClipSVC's and the activation service's state, PID,\n"
"               exit codes; licence: the status of every SKU (slc.dll).\n"
"once.json      collected once, at the end: the configuration used, both\n"
"               services' configuration (start type, delayed auto-start,\n"
"               account, binary path) and triggers, the configured registry\n"
"               values and HKLM\\SOFTWARE\\khreset\\Status in the 64-bit and\n"
"               the 32-bit (WOW6432Node) view, the KeyHolder folders' access\n"
"               lists (SDDL), the console code page at the start and the end,\n"
"               the logs copied.  An item that could not be read holds\n"
"               {\"error\": \"why\"} in place of its value; one that has no\n"
"               meaning in this mode {\"unsupported\": \"why\"}.\n"
"*.log          copies of Windows\\Logs\\khreset\\*.log (khreset.log and its\n"
"               rotations, setupcomplete.log), byte for byte.\n"
"setupact-SetupComplete.log\n"
"               the lines of Windows\\Panther\\UnattendGC\\setupact.log that\n"
"               name SetupComplete (did Setup run the hook, and its exit code).\n"
"\n"
"Offline (khreset --root DIR on a mounted volume) the services, the licence,\n"
"the access lists and the code page have no meaning and are recorded as not\n"
"collected; a run --evidence there takes one sample before and one after.\n";

/* ---------- small helpers ---------- */

static int64_t elapsed_ms(const struct kh_collector *col)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)(ts.tv_sec - col->t0.tv_sec) * 1000 +
	       (ts.tv_nsec - col->t0.tv_nsec) / 1000000;
}

static json_t *jtime(int64_t t)
{
	char s[32];

	kh_fmt_time(t, s);
	return json_string(s);
}

static json_t *jstr(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* The failure of the last platform call, for the evidence. */
static const char *why(int rc)
{
	const char *d = kh_lasterr();

	return d[0] ? d : kh_errstr(rc);
}

/* Records in o why the item is not there: "unsupported" when it has no
 * meaning in this mode, else "error" (an item not read: counted, never
 * fatal). */
static json_t *failed(struct kh_collector *col, json_t *o, int rc)
{
	int unsupported = rc == KH_ERR_UNSUPPORTED;

	json_object_set_new(o, unsupported ? "unsupported" : "error", json_string(why(rc)));
	col->unread += !unsupported;
	kh_clearerr();
	return o;
}

static const char *type_name(enum kh_ftype t)
{
	return t == KH_FT_FILE ? "file" : t == KH_FT_DIR ? "dir" : t == KH_FT_LINK ? "link"
								       : "other";
}

static const char *state_name(int s)
{
	static const char *const n[] = { "unknown", "stopped", "start-pending", "stop-pending",
					 "running", "continue-pending", "pause-pending", "paused" };

	return s >= 0 && s <= KH_SVC_PAUSED ? n[s] : "unknown";
}

static const char *sku_status_name(int s)
{
	static const char *const n[] = { "unlicensed", "licensed", "grace", "notification" };

	return s >= 0 && s <= 3 ? n[s] : "unknown";
}

static int put(struct kh_collector *col, const char *name, const void *buf, size_t len,
	       int append)
{
	int rc = plat_evdir_write(col->dir, name, buf, len, append);

	if (rc != KH_OK)
		kh_log(KH_LOG_WARN, "collect", "%s", why(rc));
	return rc;
}

static int put_json(struct kh_collector *col, const char *name, json_t *j, int flags,
		    int append)
{
	char *text = j ? json_dumps(j, flags | JSON_PRESERVE_ORDER) : NULL;
	char *line = text ? kh_asprintf("%s\n", text) : NULL;
	int rc = line ? put(col, name, line, strlen(line), append) : KH_ERR_NOMEM;

	free(line);
	free(text);
	json_decref(j);
	return rc;
}

/* ---------- a sample ---------- */

/* {"name": name}: a name that is not UTF-8 (a Linux file name may be any
 * bytes) with '?' for each byte beyond ASCII, and its bytes in hex. */
static json_t *jname(const char *name)
{
	static const char hx[] = "0123456789abcdef";
	json_t *s = json_string(name);
	size_t n = strlen(name);
	char *safe, *raw;
	json_t *o;

	if (s)
		return json_pack("{s:o}", "name", s);
	if (!(safe = malloc(n + 1)) || !(raw = malloc(2 * n + 1))) {
		free(safe);
		return json_pack("{s:s}", "name", "?");
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		safe[i] = c < 0x80 ? (char)c : '?';
		raw[2 * i] = hx[c >> 4];
		raw[2 * i + 1] = hx[c & 15];
	}
	safe[n] = raw[2 * n] = '\0';
	o = json_pack("{s:s, s:s}", "name", safe, "name_hex", raw);
	free(safe);
	free(raw);
	return o;
}

static json_t *entry(struct kh_collector *col, const char *dir, const struct kh_dirent *e)
{
	json_t *o = jname(e->name);
	char hex[KH_SHA256_HEX], *path;
	unsigned char *buf = NULL;
	size_t len;
	int rc;

	json_object_update_new(o, json_pack("{s:s, s:I, s:o}", "type", type_name(e->type),
					    "size", (json_int_t)e->size, "mtime", jtime(e->mtime)));
	if (e->type != KH_FT_FILE)
		return o;
	if (!(path = kh_asprintf("%s\\%s", dir, e->name)))
		return failed(col, o, KH_ERR_NOMEM);
	kh_clearerr();
	rc = plat_read(col->p, path, col->c->max_file_size, &buf, &len);
	if (rc == KH_OK)
		rc = kh_sha256_buf(buf, len, hex);
	if (rc == KH_OK)
		json_object_set_new(o, "sha256", json_string(hex));
	else
		failed(col, o, rc);
	free(buf);
	free(path);
	return o;
}

static json_t *listing(struct kh_collector *col, const char *dir)
{
	json_t *o = json_pack("{s:s}", "dir", dir), *arr;
	struct kh_dirent *ents = NULL;
	size_t n = 0;
	int rc;

	kh_clearerr();
	if ((rc = plat_list(col->p, dir, &ents, &n)) == KH_ERR_NOENT) {
		json_object_set_new(o, "missing", json_true());
		kh_clearerr();
		return o;
	}
	if (rc != KH_OK)
		return failed(col, o, rc);
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, entry(col, dir, &ents[i]));
	json_object_set_new(o, "entries", arr);
	plat_free_list(ents, n);
	return o;
}

static json_t *service_state(struct kh_collector *col, const char *name)
{
	json_t *o = json_pack("{s:s}", "name", name);
	struct kh_svc_status st;
	int rc;

	kh_clearerr();
	if ((rc = plat_svc_status(col->p, name, &st)) != KH_OK) {
		if (rc == KH_ERR_NOENT)
			json_object_set_new(o, "exists", json_false());
		return failed(col, o, rc);
	}
	json_object_set_new(o, "state", json_string(state_name(st.state)));
	json_object_set_new(o, "pid", json_integer(st.pid));
	json_object_set_new(o, "exit_code", json_integer(st.exit_code));
	json_object_set_new(o, "service_exit_code", json_integer(st.service_exit_code));
	return o;
}

static json_t *services(struct kh_collector *col, json_t *(*one)(struct kh_collector *,
								  const char *))
{
	json_t *arr = json_array();

	json_array_append_new(arr, one(col, col->c->clipsvc_service));
	if (col->c->activation_service)
		json_array_append_new(arr, one(col, col->c->activation_service));
	return arr;
}

/* FILETIME (100 ns since 1601) as RFC 3339; null for 0. */
static json_t *jfiletime(uint64_t ft)
{
	if (!ft || ft < 116444736000000000ULL)
		return json_null();
	return jtime((int64_t)((ft - 116444736000000000ULL) / 10000000ULL));
}

static json_t *licence(struct kh_collector *col)
{
	struct kh_sku_licence *l = NULL;
	json_t *o = json_object(), *arr;
	size_t n = 0;
	char hr[16];
	int rc;

	kh_clearerr();
	if ((rc = plat_licence_skus(col->p, &l, &n)) != KH_OK)
		return failed(col, o, rc);
	arr = json_array();
	for (size_t i = 0; i < n; i++) {
		snprintf(hr, sizeof(hr), "0x%08X", (unsigned)l[i].reason);
		json_array_append_new(arr, json_pack("{s:s, s:o, s:s, s:i, s:s, s:I, s:I, s:o}",
			"sku", l[i].sku, "name", jstr(l[i].name),
			"status", sku_status_name(l[i].status), "status_code", l[i].status,
			"reason", hr, "grace_minutes", (json_int_t)l[i].grace_minutes,
			"grace_days_total", (json_int_t)l[i].grace_days_total,
			"validity", jfiletime(l[i].validity)));
	}
	json_object_set_new(o, "skus", arr);
	plat_free_licence_skus(l, n);
	return o;
}

static int sample(struct kh_collector *col, const char *reason)
{
	json_t *s = json_pack("{s:i, s:s, s:o, s:I}", "seq", col->n, "reason", reason,
			      "time", jtime(kh_now()), "elapsed_ms", (json_int_t)elapsed_ms(col));
	int rc;

	json_object_set_new(s, "archive", listing(col, col->c->archive_dir));
	json_object_set_new(s, "install", listing(col, col->c->install_dir));
	json_object_set_new(s, "services", services(col, service_state));
	json_object_set_new(s, "licence", licence(col));
	if ((rc = put_json(col, SAMPLES, s, JSON_COMPACT, 1)) == KH_OK)
		col->n++;
	return rc;
}

/* ---------- once ---------- */

static json_t *service_config(struct kh_collector *col, const char *name)
{
	json_t *o = json_pack("{s:s}", "name", name), *cfg = json_object(), *tr;
	struct kh_svc_config sc;
	struct kh_svc_trigger *t = NULL;
	size_t n = 0;
	int rc;

	memset(&sc, 0, sizeof(sc));
	kh_clearerr();
	if ((rc = plat_svc_config(col->p, name, &sc)) != KH_OK) {
		failed(col, cfg, rc);
	} else {
		json_object_set_new(cfg, "type", json_integer(sc.type));
		json_object_set_new(cfg, "start_type", json_integer(sc.start_type));
		json_object_set_new(cfg, "start", json_string(
			sc.start_type == 0 ? "boot" : sc.start_type == 1 ? "system" :
			sc.start_type == 2 ? "auto" : sc.start_type == 3 ? "demand" :
			sc.start_type == 4 ? "disabled" : "unknown"));
		json_object_set_new(cfg, "delayed_auto_start",
				    sc.delayed < 0 ? json_null() : json_boolean(sc.delayed));
		json_object_set_new(cfg, "account", jstr(sc.account));
		json_object_set_new(cfg, "binary_path", jstr(sc.binary));
		json_object_set_new(cfg, "display_name", jstr(sc.display));
	}
	plat_free_svc_config(&sc);
	json_object_set_new(o, "config", cfg);
	kh_clearerr();
	if ((rc = plat_svc_triggers(col->p, name, &t, &n)) != KH_OK) {
		tr = failed(col, json_object(), rc);
	} else {
		tr = json_array();
		for (size_t i = 0; i < n; i++) {
			json_t *data = json_array();

			for (size_t k = 0; k < t[i].n_data; k++)
				json_array_append_new(data, json_pack("{s:I, s:s?}",
					"type", (json_int_t)t[i].data[k].type,
					"value", t[i].data[k].value));
			json_array_append_new(tr, json_pack("{s:I, s:s, s:s, s:o}",
				"type", (json_int_t)t[i].type,
				"action", t[i].action == 1 ? "start" : t[i].action == 2 ? "stop"
										: "unknown",
				"subtype", t[i].subtype, "data", data));
		}
		plat_free_svc_triggers(t, n);
	}
	json_object_set_new(o, "triggers", tr);
	return o;
}

/* "HKLM32\X" (the 32-bit view named in the key) is read as HKLM\X in
 * both views like any other key. */
static const char *plain_key(const char *key, char *buf, size_t size)
{
	return plat_reg_view_of(key, buf, size) == KH_VIEW_32 && buf[0] ? buf : key;
}

static void add_name(json_t *names, const char *name)
{
	size_t i;
	json_t *v;

	json_array_foreach(names, i, v)
		if (!kh_strcasecmp(json_string_value(v), name))
			return;
	json_array_append_new(names, json_string(name));
}

/* The names read in key: the configured ones, the Status ones khreset
 * writes, and (live) every value the key holds. */
static json_t *reg_names(struct kh_collector *col, const char *key, enum kh_regview view,
			 json_t *o)
{
	static const char *const status[] = { "Outcome", "ExitCode", "LastRun", "Attempts",
					      "BackupId", "Version" };
	json_t *names = json_array();
	char kb[512], **list = NULL;
	size_t n = 0;
	int rc;

	for (size_t i = 0; i < col->c->n_reg; i++)
		if (!kh_strcasecmp(plain_key(col->c->reg[i].key, kb, sizeof(kb)), key))
			add_name(names, col->c->reg[i].name);
	for (size_t i = 0; !kh_strcasecmp(key, STATUS_KEY) && i < 6; i++)
		add_name(names, status[i]);
	kh_clearerr();
	rc = plat_reg_names(col->p, key, view, &list, &n);
	json_object_set_new(o, "listed", json_boolean(rc == KH_OK));
	if (rc == KH_ERR_NOENT)
		json_object_set_new(o, "key_exists", json_false());
	else if (rc != KH_OK && rc != KH_ERR_UNSUPPORTED)
		json_object_set_new(o, "list_error", json_string(why(rc)));
	kh_clearerr();
	for (size_t i = 0; i < n; i++) {
		add_name(names, list[i]);
		free(list[i]);
	}
	free(list);
	return names;
}

static json_t *reg_view(struct kh_collector *col, const char *key, enum kh_regview view)
{
	json_t *o = json_pack("{s:s, s:s}", "key", key, "view", view == KH_VIEW_32 ? "32" : "64");
	json_t *values = json_object(), *missing = json_array(), *errors = json_object();
	json_t *names = reg_names(col, key, view, o), *v;
	size_t i;

	json_array_foreach(names, i, v) {
		const char *name = json_string_value(v);
		char *data = NULL;
		int rc;

		kh_clearerr();
		rc = plat_reg_get_view(col->p, key, name, view, &data);
		if (rc == KH_OK) {
			json_object_set_new(values, name, json_string(data));
		} else if (rc == KH_ERR_NOENT) {
			json_array_append_new(missing, json_string(name));
		} else {
			json_object_set_new(errors, name, json_string(why(rc)));
			col->unread++;
		}
		free(data);
	}
	kh_clearerr();
	json_decref(names);
	json_object_set_new(o, "values", values);
	json_object_set_new(o, "missing", missing);
	json_object_set_new(o, "errors", errors);
	return o;
}

static json_t *registry(struct kh_collector *col)
{
	json_t *keys = json_array(), *arr = json_array(), *k;
	char kb[512];
	size_t i;

	for (size_t r = 0; r < col->c->n_reg; r++)
		add_name(keys, plain_key(col->c->reg[r].key, kb, sizeof(kb)));
	add_name(keys, STATUS_KEY);
	json_array_foreach(keys, i, k) {
		json_array_append_new(arr, reg_view(col, json_string_value(k), KH_VIEW_64));
		json_array_append_new(arr, reg_view(col, json_string_value(k), KH_VIEW_32));
	}
	json_decref(keys);
	return arr;
}

static json_t *acls(struct kh_collector *col)
{
	const char *dirs[] = { col->c->archive_dir, col->c->install_dir, KH_STATE_DIR };
	json_t *arr = json_array();

	for (size_t i = 0; i < 3; i++) {
		json_t *o = json_pack("{s:s}", "path", dirs[i]);
		char *sddl = NULL;
		int rc;

		kh_clearerr();
		if ((rc = plat_sddl(col->p, dirs[i], &sddl)) == KH_OK)
			json_object_set_new(o, "sddl", json_string(sddl));
		else
			failed(col, o, rc);
		free(sddl);
		json_array_append_new(arr, o);
	}
	return arr;
}

static json_t *codepage(struct kh_collector *col)
{
	struct kh_codepage cp;
	int rc;

	kh_clearerr();
	if ((rc = plat_codepage(col->p, &cp)) != KH_OK)
		return failed(col, json_object(), rc);
	return json_pack("{s:I, s:I, s:I, s:I}", "console_input", (json_int_t)cp.console_in,
			 "console_output", (json_int_t)cp.console_out, "ansi", (json_int_t)cp.ansi,
			 "oem", (json_int_t)cp.oem);
}

/* khreset.log, its rotations khreset.log.N, setupcomplete.log, ... */
static int is_log_name(const char *name)
{
	const char *dot = strstr(name, ".log");

	for (const char *s = dot; s; s = strstr(s + 1, ".log"))
		dot = s;
	if (!dot || dot == name)
		return 0;
	if (!dot[4])
		return 1;
	if (dot[4] != '.' || !dot[5])
		return 0;
	for (const char *c = dot + 5; *c; c++)
		if (*c < '0' || *c > '9')
			return 0;
	return 1;
}

static json_t *copy_log(struct kh_collector *col, const struct kh_dirent *e)
{
	char *from = kh_asprintf("%s\\%s", LOG_DIR, e->name), hex[KH_SHA256_HEX];
	json_t *o = jname(e->name);
	unsigned char *buf = NULL;
	size_t len = 0;
	int rc;

	if (from)
		json_object_set_new(o, "from", json_string(from));
	kh_clearerr();
	if (!from)
		rc = KH_ERR_NOMEM;
	else if (e->type != KH_FT_FILE) {
		kh_seterr("%s: %s, not copied", from, e->type == KH_FT_LINK ? "a link" : "not a file");
		rc = KH_ERR_UNSAFE;
	} else if ((rc = plat_read(col->p, from, LOG_MAX, &buf, &len)) == KH_OK &&
		   (rc = kh_sha256_buf(buf, len, hex)) == KH_OK)
		rc = plat_evdir_write(col->dir, e->name, buf, len, 0);
	if (rc == KH_OK)
		json_object_update_new(o, json_pack("{s:s, s:I, s:s}", "file", e->name,
						    "size", (json_int_t)len, "sha256", hex));
	else
		failed(col, o, rc);
	free(buf);
	free(from);
	return o;
}

static json_t *logs(struct kh_collector *col)
{
	struct kh_dirent *ents = NULL;
	json_t *arr = json_array();
	size_t n = 0;
	int rc;

	kh_clearerr();
	if ((rc = plat_list(col->p, LOG_DIR, &ents, &n)) == KH_ERR_NOENT) {
		kh_clearerr();
		return arr;
	}
	if (rc != KH_OK) {
		json_array_append_new(arr, failed(col, json_pack("{s:s}", "from", LOG_DIR), rc));
		return arr;
	}
	for (size_t i = 0; i < n; i++)
		if (is_log_name(ents[i].name))
			json_array_append_new(arr, copy_log(col, &ents[i]));
	plat_free_list(ents, n);
	return arr;
}

/* setupact.log as 8-bit text: UTF-16LE (with its byte order mark) is
 * narrowed, anything beyond ASCII becoming '?'. */
static void narrow_utf16(unsigned char *buf, size_t *len)
{
	size_t o = 0;

	if (*len < 2 || buf[0] != 0xFF || buf[1] != 0xFE)
		return;
	for (size_t i = 2; i + 1 < *len; i += 2)
		buf[o++] = buf[i + 1] || buf[i] > 0x7F ? '?' : buf[i];
	buf[o] = '\0';
	*len = o;
}

static int names_setupcomplete(const char *s, size_t n)
{
	static const char w[] = "setupcomplete";

	for (size_t i = 0; i + sizeof(w) - 1 <= n; i++) {
		size_t k = 0;

		while (k < sizeof(w) - 1 && (s[i + k] | 0x20) == w[k])
			k++;
		if (k == sizeof(w) - 1)
			return 1;
	}
	return 0;
}

static json_t *setupact(struct kh_collector *col)
{
	json_t *o = json_pack("{s:s}", "from", SETUPACT);
	unsigned char *buf = NULL;
	char *out = NULL, *line, *end;
	size_t len = 0, olen = 0;
	int rc, lines = 0;

	kh_clearerr();
	if ((rc = plat_read(col->p, SETUPACT, SETUPACT_MAX, &buf, &len)) == KH_ERR_NOENT) {
		json_object_set_new(o, "missing", json_true());
		kh_clearerr();
		return o;
	}
	if (rc != KH_OK)
		return failed(col, o, rc);
	narrow_utf16(buf, &len);
	if (!(out = malloc(len + 1))) {
		free(buf);
		return failed(col, o, KH_ERR_NOMEM);
	}
	for (line = (char *)buf; line < (char *)buf + len; line = end) {
		end = memchr(line, '\n', (size_t)((char *)buf + len - line));
		end = end ? end + 1 : (char *)buf + len;
		if (names_setupcomplete(line, (size_t)(end - line))) {
			memcpy(out + olen, line, (size_t)(end - line));
			olen += (size_t)(end - line);
			lines++;
		}
	}
	if ((rc = plat_evdir_write(col->dir, SETUPACT_TO, out, olen, 0)) == KH_OK)
		json_object_update_new(o, json_pack("{s:s, s:i}", "file", SETUPACT_TO, "lines", lines));
	else
		failed(col, o, rc);
	free(out);
	free(buf);
	return o;
}

static json_t *config(struct kh_collector *col)
{
	const struct kh_config *c = col->c;
	json_t *reg = json_array();

	for (size_t i = 0; i < c->n_reg; i++)
		json_array_append_new(reg, json_pack("{s:s, s:s, s:s}", "key", c->reg[i].key,
						     "name", c->reg[i].name, "data", c->reg[i].data));
	return json_pack("{s:o, s:o, s:s, s:s, s:s, s:o, s:o}", "path", jstr(c->path),
			 "error", jstr(col->config_error), "archive_dir", c->archive_dir,
			 "install_dir", c->install_dir, "clipsvc_service", c->clipsvc_service,
			 "activation_service", jstr(c->activation_service), "registry", reg);
}

static int once(struct kh_collector *col)
{
	json_t *o = json_pack("{s:i, s:{s:s, s:s}, s:s, s:s, s:o, s:o, s:o}", "schema", 1,
			      "tool", "name", "khreset", "version", KH_VERSION,
			      "mode", plat_is_offline(col->p) ? "offline" : "live",
			      "collector", col->how, "note", jstr(col->note),
			      "started", jtime(col->started), "ended", jtime(kh_now()));

	json_object_set_new(o, "samples", json_integer(col->n));
	json_object_set_new(o, "every", json_integer(col->every));
	json_object_set_new(o, "for", json_integer(col->for_s));
	json_object_set_new(o, "stopped", json_boolean(col->stopped));
	json_object_set_new(o, "config", config(col));
	json_object_set_new(o, "services", services(col, service_config));
	json_object_set_new(o, "registry", registry(col));
	json_object_set_new(o, "acl", acls(col));
	json_object_set_new(o, "console_codepage", json_pack("{s:o, s:o}", "start",
			    col->cp_start ? col->cp_start : json_null(), "end", codepage(col)));
	col->cp_start = NULL;
	json_object_set_new(o, "logs", logs(col));
	json_object_set_new(o, "setupact", setupact(col));
	json_object_set_new(o, "unread", json_integer(col->unread));
	return put_json(col, ONCE, o, JSON_INDENT(2), 0);
}

/* ---------- the collector ---------- */

static int collector_open(kh_plat *p, const struct kh_config *c, const char *dir,
			  const char *how, struct kh_collector **out)
{
	struct kh_collector *col = calloc(1, sizeof(*col));
	int rc;

	*out = NULL;
	if (!col || !(col->path = kh_strdup(dir))) {
		free(col);
		return KH_ERR_NOMEM;
	}
	col->p = p;
	col->c = c;
	col->how = how;
	col->every = EVERY_DEFAULT;
	col->started = kh_now();
	clock_gettime(CLOCK_MONOTONIC, &col->t0);
	if ((rc = plat_evdir_open(dir, &col->dir)) != KH_OK) {
		free(col->path);
		free(col);
		return rc;
	}
	col->cp_start = codepage(col);
	put(col, README, readme, sizeof(readme) - 1, 0);
	*out = col;
	return KH_OK;
}

/* Writes once.json and closes; *unread: the items not read, in all. */
static int collector_close(struct kh_collector *col, int *unread)
{
	int rc = once(col);

	if (unread)
		*unread = col->unread;
	plat_evdir_close(col->dir);
	json_decref(col->cp_start);
	free(col->note);
	free(col->config_error);
	free(col->path);
	free(col);
	return rc;
}

/* One sample now, then one every col->every seconds from the start while
 * that is within col->for_s; asked to stop, one more and done. */
static int collect_loop(struct kh_collector *col)
{
	int64_t every = (int64_t)col->every * 1000, limit = (int64_t)col->for_s * 1000;
	int stop = plat_ev_wait(col->p, 0), rc;

	for (;;) {
		int64_t now, next;

		if ((rc = sample(col, stop ? "stop" : col->n ? "interval" : "start")) != KH_OK ||
		    stop)
			break;
		now = elapsed_ms(col);
		next = (now / every + 1) * every;
		if (next > limit)
			break;
		if ((stop = plat_ev_wait(col->p, (int)(next - now))))
			col->stopped = 1;
	}
	return rc;
}

static int parse_secs(const char *opt, const char *arg, int lo, int hi, int *out)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (*end || end == arg || v < lo || v > hi)
		return cli_usage_error("collect", "%s: expected seconds %d..%d, got '%s'",
				       opt, lo, hi, arg);
	*out = (int)v;
	return -1;
}

/* The configuration, else the built-in defaults with the reason recorded:
 * a broken khreset.ini is evidence too. */
static struct kh_config *collect_config(const struct kh_globals *g, kh_plat *p, char **err)
{
	struct kh_config *c = NULL;
	int rc = cli_config(g, p, &c);

	*err = NULL;
	if (rc == KH_OK)
		return c;
	*err = kh_strdup(why(rc));
	kh_clearerr();
	return config_load(NULL, NULL, &c) == KH_OK ? c : NULL;
}

int cmd_collect(int argc, char **argv, struct kh_globals *g)
{
	struct kh_collector *col = NULL;
	struct kh_config *c = NULL;
	kh_plat *p = NULL;
	char *cfg_err = NULL;
	int for_s = FOR_DEFAULT, every = EVERY_DEFAULT, ch, ex, rc, n, unread;

	while ((ch = cli_getopt(argc, argv, "collect", g)) != -1) {
		switch (ch) {
		case OPT_FOR:
			if ((ex = parse_secs("--for", optarg, 0, 86400, &for_s)) != -1)
				return ex;
			break;
		case OPT_EVERY:
			if ((ex = parse_secs("--every", optarg, 1, 3600, &every)) != -1)
				return ex;
			break;
		default:
			return cli_exit(ch);
		}
	}
	if (optind >= argc)
		return cli_usage_error("collect", "needs the evidence folder DIR");
	if (optind + 1 < argc)
		return cli_usage_error("collect", "unexpected argument '%s'", argv[optind + 1]);
#ifndef _WIN32
	if (!g->root) {
		cli_say("live mode needs Windows; on Linux give --root DIR (a mounted Windows volume)");
		return KH_EXIT_USAGE;
	}
#endif
	if ((rc = plat_open(&p, g->root)) != KH_OK)
		return cli_fail(rc, "%s", g->root ? g->root : "live system");
	if (!(c = collect_config(g, p, &cfg_err))) {
		ex = cli_fail(KH_ERR_NOMEM, "configuration");
		goto out;
	}
	if ((rc = collector_open(p, c, argv[optind], "collect", &col)) != KH_OK) {
		ex = cli_fail(rc, "evidence folder");
		goto out;
	}
	col->config_error = cfg_err;
	cfg_err = NULL;
	col->for_s = for_s;
	col->every = every;
	rc = collect_loop(col);
	n = col->n;
	if ((ex = collector_close(col, &unread)) == KH_OK)
		ex = rc;
	if (ex != KH_OK) {
		ex = cli_fail(ex, "writing the evidence to %s", argv[optind]);
		goto out;
	}
	if (g->json) {
		json_t *j = json_pack("{s:s, s:i, s:i}", "dir", argv[optind], "samples", n,
				      "unread", unread);
		char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;

		printf("%s\n", text ? text : "{}");
		free(text);
		json_decref(j);
	} else if (g->verbosity > 0) {
		printf("khreset: evidence in %s: %d sample%s, %d item%s that could not be read; "
		       "see README.txt there\n", argv[optind], n, n == 1 ? "" : "s", unread,
		       unread == 1 ? "" : "s");
	}
	ex = KH_EXIT_OK;
out:
	free(cfg_err);
	config_free(c);
	plat_close(p);
	return ex;
}

/* ---------- run --evidence ---------- */

/* The run's budget: its --wait, else the activation wait, and the two
 * ClipSVC waits (stop, start). */
static int run_budget(const struct kh_config *c, int wait_s)
{
	return config_budget_s(c, wait_s);
}

static int spawn(struct kh_collector *col, const struct kh_globals *g, int wait_s)
{
	char for_s[16];
	char *argv[16];
	int n = 0;

	snprintf(for_s, sizeof(for_s), "%d", run_budget(col->c, wait_s) + FINISH_WAIT);
	argv[n++] = "collect";
	argv[n++] = col->path;
	argv[n++] = "--for";
	argv[n++] = for_s;
	argv[n++] = "-q";
	if (g->root) {
		argv[n++] = "--root";
		argv[n++] = (char *)g->root;
	}
	if (g->config) {
		argv[n++] = "--config";
		argv[n++] = (char *)g->config;
	}
	argv[n] = NULL;
	kh_clearerr();
	return plat_ev_spawn(col->p, argv, &col->child);
}

int collect_begin(kh_plat *p, const struct kh_config *c, const struct kh_globals *g,
		  const char *dir, int wait_s, struct kh_collector **out)
{
	struct kh_collector *col;
	kh_evdir *d;
	char *note = NULL;
	int rc;

	*out = NULL;
	if (!plat_is_offline(p)) {
		/* the folder is checked (created) here, the child collects into it */
		if ((rc = plat_evdir_open(dir, &d)) != KH_OK)
			return cli_fail(rc, "evidence folder");
		plat_evdir_close(d);
		if (!(col = calloc(1, sizeof(*col))) || !(col->path = kh_strdup(dir))) {
			free(col);
			return cli_fail(KH_ERR_NOMEM, "evidence collector");
		}
		col->p = p;
		col->c = c;
		rc = spawn(col, g, wait_s);
		free(col->path);
		col->path = NULL;
		if (rc == KH_OK) {
			kh_log(KH_LOG_INFO, "collect", "evidence collector started: %s", dir);
			*out = col;
			return 0;
		}
		note = kh_asprintf("the collector could not start (%s): one sample before "
				   "the run and one after", why(rc));
		kh_log(KH_LOG_WARN, "collect", "%s", note ? note : "no collector");
		free(col);
	} else {
		note = kh_strdup("offline: nothing changes by itself on a mounted volume: one "
				 "sample before the run and one after");
	}
	if ((rc = collector_open(p, c, dir, "run --evidence", &col)) != KH_OK) {
		free(note);
		return cli_fail(rc, "evidence folder");
	}
	col->note = note;
	col->for_s = run_budget(c, wait_s);
	sample(col, "before-run");
	*out = col;
	return 0;
}

void collect_end(struct kh_collector *col)
{
	int rc;

	if (!col)
		return;
	if (col->child) {
		if ((rc = plat_ev_finish(col->child, FINISH_WAIT)) != KH_OK)
			kh_log(KH_LOG_WARN, "collect", "the evidence collector: %s", why(rc));
		free(col);
		return;
	}
	sample(col, "after-run");
	collector_close(col, NULL);
}
