/* test_state.c - khreset's own state (SPEC section 8): the record format,
 * backup manifests, what recovery trusts in a journal, and recovery over a
 * real folder (the offline body on a mkdtemp root).  Checksums are checked
 * against the independent sha256sum, names as bytes against python3.
 */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "khreset.h"
#include "record.h"
#include "state.h"
#include "testutil.h"

#define ARCH "ProgramData\\Microsoft\\Windows\\ClipSVC\\Archive\\KeyHolder"
#define INST "ProgramData\\Microsoft\\Windows\\ClipSVC\\Install\\KeyHolder"

/* Names no line-based text format of the past could hold. */
static const char *const odd[] = {
	"a;b.xml", "#lead.xml", " lead", "trail ", "tab\tname", "new\nline",
	"cr\rname", "pct%41", "eq=sign", "\xff\xfe not utf-8", "sp ace", "\x01\x7f",
};
#define NODD (sizeof(odd) / sizeof(odd[0]))

/* ---------- records ---------- */

static void test_record_round_trip(void **state)
{
	struct kh_recbuf b = { 0 };
	unsigned char all[256];
	struct kh_recs rs;
	size_t len;
	const char *v;

	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	rec_open(&b, "file");
	rec_bytes(&b, "all", all, sizeof(all));
	rec_str(&b, "empty", "");
	rec_u64(&b, "size", UINT64_MAX);
	rec_i64(&b, "mtime", INT64_MIN);
	rec_close(&b);
	for (size_t i = 0; i < NODD; i++) {
		rec_open(&b, "name");
		rec_str(&b, "v", odd[i]);
		rec_close(&b);
	}
	assert_int_equal(rec_done(&b), KH_OK);
	/* one record a line, nothing raw but printable ASCII */
	for (size_t i = 0; i < b.len; i++)
		assert_true(b.s[i] == '\n' || (b.s[i] >= ' ' && b.s[i] < 0x7f));
	assert_int_equal(rec_parse(b.s, b.len, &rs), KH_OK);
	assert_int_equal(rs.n, 1 + NODD);
	assert_int_equal(rs.damaged, 0);
	assert_string_equal(rs.r[0].type, "file");
	assert_non_null(v = rec_getn(&rs.r[0], "all", &len));
	assert_int_equal(len, 256);
	assert_memory_equal(v, all, 256);
	assert_null(rec_get(&rs.r[0], "all"));         /* holds a NUL: not a string */
	assert_string_equal(rec_get(&rs.r[0], "empty"), "");
	{
		uint64_t u;
		int64_t s;

		assert_true(rec_get_u64(&rs.r[0], "size", &u));
		assert_true(u == UINT64_MAX);
		assert_true(rec_get_i64(&rs.r[0], "mtime", &s));
		assert_true(s == INT64_MIN);
		assert_false(rec_get_u64(&rs.r[0], "mtime", &u));
	}
	for (size_t i = 0; i < NODD; i++)
		assert_string_equal(rec_get(&rs.r[1 + i], "v"), odd[i]);
	assert_null(rec_get(&rs.r[1], "absent"));
	rec_free_all(&rs);
	rec_free(&b);
}

/* The checksum is SHA-256 of the payload as sha256sum computes it. */
static void test_record_checksum_independent(void **state)
{
	struct kh_recbuf b = { 0 };
	char dir[] = "/tmp/khrec.XXXXXX", path[64], *sp, *pay;
	FILE *fp;

	rec_open(&b, "move");
	rec_str(&b, "name", "tab\tname;#x");
	rec_close(&b);
	assert_int_equal(rec_done(&b), KH_OK);
	assert_non_null(mkdtemp(dir));
	sp = strchr(b.s, ' ');
	pay = strchr(sp + 1, ' ') + 1;
	tu_fmt(path, sizeof(path), "%s/payload", dir);
	assert_non_null(fp = fopen(path, "wb"));
	fwrite(pay, 1, strlen(pay) - 1, fp);     /* without the LF */
	fclose(fp);
	assert_int_equal(tu_run(dir, "test \"$(sha256sum < payload | cut -c1-64)\" = '%.64s'",
				sp + 1), 0);
	assert_int_equal(tu_run(dir, "test \"$(wc -c < payload)\" -eq %d", atoi(b.s)), 0);
	/* negative twin: another payload has another sum */
	assert_int_not_equal(tu_run(dir, "printf x >> payload && test \"$(sha256sum < payload "
				    "| cut -c1-64)\" = '%.64s'", sp + 1), 0);
	tu_run(dir, "rm -f payload");
	rmdir(dir);
	rec_free(&b);
}

static char *three(size_t *len)
{
	struct kh_recbuf b = { 0 };

	for (int i = 0; i < 3; i++) {
		rec_open(&b, "move");
		rec_u64(&b, "n", (uint64_t)i);
		rec_str(&b, "name", odd[i + 3]);
		rec_close(&b);
	}
	assert_int_equal(rec_done(&b), KH_OK);
	*len = b.len;
	return b.s;
}

/* Every prefix (a torn write): the records before the cut read whole, the
 * cut one reads as nothing. */
static void test_record_torn_every_byte(void **state)
{
	size_t len, ends[3], k = 0;
	char *s = three(&len);

	for (size_t i = 0; i < len; i++)
		if (s[i] == '\n')
			ends[k++] = i + 1;
	for (size_t cut = 0; cut <= len; cut++) {
		struct kh_recs rs;
		size_t whole = 0, ok = 0;

		while (whole < 3 && ends[whole] <= cut)
			whole++;
		assert_int_equal(rec_parse(s, cut, &rs), KH_OK);
		for (size_t i = 0; i < rs.n; i++)
			ok += rs.r[i].ok;
		assert_int_equal(ok, whole);
		for (size_t i = 0; i < whole; i++)
			assert_true(rs.r[i].ok);
		if (cut != (whole ? ends[whole - 1] : 0)) {
			assert_int_equal(rs.n, whole + 1);
			assert_false(rs.r[whole].ok);
			assert_true(rs.r[whole].torn);
		} else {
			assert_int_equal(rs.n, whole);
		}
		rec_free_all(&rs);
	}
	free(s);
}

/* Any one byte changed: that record is damaged, the others read whole. */
static void test_record_flip_every_byte(void **state)
{
	size_t len, line = 0;
	char *s = three(&len);

	for (size_t i = 0; i < len; i++) {
		struct kh_recs rs;
		char keep = s[i];
		size_t ok = 0;

		s[i] = keep == '\n' ? 'x' : (char)(keep ^ 0x01);
		assert_int_equal(rec_parse(s, len, &rs), KH_OK);
		for (size_t k = 0; k < rs.n; k++)
			ok += rs.r[k].ok;
		/* a LF turned into a byte joins two records into one damaged */
		assert_int_equal(ok, keep == '\n' ? (line == 2 ? 2 : 1) : 2);
		if (keep != '\n')
			assert_false(rs.r[line].ok);
		rec_free_all(&rs);
		s[i] = keep;
		line += keep == '\n';
	}
	free(s);
}

static void test_record_malformed(void **state)
{
	static const char *const bad[] = {
		"",                                    /* no length */
		"05 ",                                 /* leading zero */
		"4 0123 move",                         /* short checksum */
		"99999999 " "0000000000000000000000000000000000000000000000000000000000000000 x",
	};
	struct kh_recbuf b = { 0 };
	struct kh_recs rs;
	char line[512];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tu_fmt(line, sizeof(line), "%s\n", bad[i]);
		assert_int_equal(rec_parse(line, strlen(line), &rs), KH_OK);
		assert_int_equal(rs.n, 1);
		assert_false(rs.r[0].ok);
		rec_free_all(&rs);
	}
	/* well-formed checksums over bad payloads: a raw space in a value, a
	 * field twice, a bad escape, an upper-case type */
	static const char *const pay[] = { "move a=b c", "move a=1 a=2", "move a=%4", "Move a=1",
					   "move =1", "move a=%zz" };
	for (size_t i = 0; i < sizeof(pay) / sizeof(pay[0]); i++) {
		char sum[KH_SHA256_HEX];

		kh_sha256_buf(pay[i], strlen(pay[i]), sum);
		tu_fmt(line, sizeof(line), "%zu %s %s\n", strlen(pay[i]), sum, pay[i]);
		assert_int_equal(rec_parse(line, strlen(line), &rs), KH_OK);
		assert_false(rs.r[0].ok);
		rec_free_all(&rs);
	}
	/* negative twin: the same made by the writer reads */
	rec_open(&b, "move");
	rec_str(&b, "a", "b c");
	rec_close(&b);
	assert_int_equal(rec_done(&b), KH_OK);
	assert_int_equal(rec_parse(b.s, b.len, &rs), KH_OK);
	assert_string_equal(rec_get(&rs.r[0], "a"), "b c");
	rec_free_all(&rs);
	rec_free(&b);
}

/* ---------- manifests ---------- */

static void fill_backup(struct kh_backup *b)
{
	memset(b, 0, sizeof(*b));
	snprintf(b->id, sizeof(b->id), "20240102T030405Z");
	b->reason = kh_strdup("repair");
	b->created = 1704164645;
	b->state = KH_BS_COMPLETE;
	for (size_t i = 0; i < NODD; i++)
		assert_int_equal(backup_add(b, KH_PART_ARCHIVE, ARCH, odd[i], KH_FT_FILE, i,
					    -(int64_t)i, i % 2 ? "" :
					    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
				 KH_OK);
	assert_int_equal(backup_add(b, KH_PART_REGISTRY, "Windows\\System32\\config", "SOFTWARE",
				    KH_FT_FILE, 8192, 5,
				    "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"),
			 KH_OK);
}

struct root {
	char tmp[64];
	kh_plat *p;
};

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int setup(void **state)
{
	struct root *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	tu_fmt(r->tmp, sizeof(r->tmp), "/tmp/khstate.XXXXXX");
	assert_non_null(mkdtemp(r->tmp));
	assert_int_equal(plat_open(&r->p, r->tmp), KH_OK);
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct root *r = *state;

	plat_close(r->p);
	nftw(r->tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(r);
	return 0;
}

static unsigned char *slurp(const struct root *r, const char *rel, size_t *len)
{
	unsigned char *buf;

	assert_int_equal(plat_read(r->p, rel, 1 << 20, &buf, len), KH_OK);
	return buf;
}

static void spit(const struct root *r, const char *rel, const void *buf, size_t len)
{
	assert_int_equal(plat_write_atomic(r->p, rel, buf, len), KH_OK);
}

static void test_manifest_round_trip(void **state)
{
	struct root *r = *state;
	struct kh_backup b, l;

	fill_backup(&b);
	assert_int_equal(backup_save(r->p, &b), KH_OK);
	assert_int_equal(backup_load(r->p, b.id, &l), KH_OK);
	assert_int_equal(l.n, b.n);
	assert_string_equal(l.reason, "repair");
	assert_int_equal(l.state, KH_BS_COMPLETE);
	assert_true(l.created == b.created);
	for (size_t i = 0; i < b.n; i++) {
		assert_string_equal(l.files[i].name, b.files[i].name);
		assert_string_equal(l.files[i].part, b.files[i].part);
		assert_string_equal(l.files[i].origin, b.files[i].origin);
		assert_string_equal(l.files[i].sha256, b.files[i].sha256);
		assert_true(l.files[i].size == b.files[i].size);
		assert_true(l.files[i].mtime == b.files[i].mtime);
	}
	assert_int_equal(backup_count(&l, KH_PART_ARCHIVE), NODD);
	assert_int_equal(backup_count(&l, KH_PART_REGISTRY), 1);
	/* every name as python3 reads the manifest's escapes */
	{
		char cmd[1024];

		tu_fmt(cmd, sizeof(cmd), "python3 -c \"import urllib.parse as u,sys; "
		       "n=[u.unquote_to_bytes(f[5:]) for l in open(sys.argv[1],'rb') for f in "
		       "l.split()[3:] if f.startswith(b'name=')]; print(len(n)); "
		       "sys.exit(0 if bytes([255,254])+b' not utf-8' in n and b'tab\\\\tname' in n "
		       "else 1)\" %s/ProgramData/khreset/backup/%s/manifest", r->tmp, b.id);
		assert_int_equal(tu_run("/", "%s", cmd), 0);
	}
	backup_free(&l);
	backup_free(&b);
}

static void test_manifest_damage_refused(void **state)
{
	struct root *r = *state;
	const char *rel = "ProgramData\\khreset\\backup\\20240102T030405Z\\manifest";
	struct kh_backup b, l;
	unsigned char *buf;
	size_t len;

	fill_backup(&b);
	assert_int_equal(backup_save(r->p, &b), KH_OK);
	buf = slurp(r, rel, &len);
	/* one byte of the third record flipped: the whole manifest refused,
	 * the record named */
	{
		size_t at = 0;
		for (int nl = 0; nl < 2; at++)
			nl += buf[at] == '\n';
		buf[at + 80] ^= 1;
		spit(r, rel, buf, len);
		assert_int_equal(backup_load(r->p, b.id, &l), KH_ERR_DATA);
		assert_non_null(strstr(kh_lasterr(), "record 3"));
		backup_free(&l);
		buf[at + 80] ^= 1;
	}
	/* cut short */
	spit(r, rel, buf, len - 5);
	assert_int_equal(backup_load(r->p, b.id, &l), KH_ERR_DATA);
	backup_free(&l);
	/* the manifest of another backup */
	spit(r, rel, buf, len);
	assert_int_equal(manifest_parse("20240102T030405Z-2", buf, len, &l), KH_ERR_DATA);
	assert_non_null(strstr(kh_lasterr(), "another backup"));
	backup_free(&l);
	/* the older manifest.ini text */
	assert_int_equal(manifest_parse(b.id, "[backup]\nstate = complete\n", 26, &l),
			 KH_ERR_DATA);
	backup_free(&l);
	/* negative twin: intact, it loads */
	assert_int_equal(backup_load(r->p, b.id, &l), KH_OK);
	backup_free(&l);
	free(buf);
	backup_free(&b);
}

/* ---------- what recovery trusts ---------- */

static struct kh_config *config(void)
{
	static struct kh_regval reg[] = {
		{ "HKLM\\SOFTWARE\\CMIT\\Active", "IntranetActivationServer", KH_REG_SZ, "x" },
	};
	static struct kh_config c;

	c.archive_dir = ARCH;
	c.install_dir = INST;
	c.max_file_size = 1 << 20;
	c.reg = reg;
	c.n_reg = 1;
	return &c;
}

static char *rec1(struct kh_recbuf *b, const char *type, ...)
{
	va_list ap;
	const char *k;

	rec_open(b, type);
	va_start(ap, type);
	while ((k = va_arg(ap, const char *)))
		rec_str(b, k, va_arg(ap, const char *));
	va_end(ap);
	rec_close(b);
	return b->s;
}

#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define BKA KH_BACKUP_DIR "\\20240102T030405Z\\archive"

static void test_journal_trust(void **state)
{
	struct kh_recbuf b = { 0 };
	struct kh_journal j;
	static const int want[] = { 1, 1, 1, 0, 0, 0, 1, 0, 0, 1, 0, 1, 0, 1, 1, 0, 1 };

	rec1(&b, "khreset-journal", "format", "1", "kind", "run", "pid", "42", NULL);
	rec1(&b, "backup", "id", "20240102T030405Z", "role", "own", NULL);
	/* 2: owned: archive into the run's backup */
	rec1(&b, "move", "name", "a.xml", "from", ARCH, "to", BKA, "type", "file", "size", "1",
	     "sha256", SHA, NULL);
	/* 3-5: a folder, a name with a separator, another backup */
	rec1(&b, "move", "name", "a.xml", "from", ARCH, "to", KH_BACKUP_DIR "\\20240102T030405Z",
	     "type", "file", "size", "1", "sha256", SHA, NULL);
	rec1(&b, "move", "name", "..\\x", "from", ARCH, "to", BKA, "type", "file", "size", "1",
	     "sha256", SHA, NULL);
	rec1(&b, "move", "name", "a.xml", "from", ARCH, "to", KH_BACKUP_DIR "\\19990101T000000Z\\archive",
	     "type", "file", "size", "1", "sha256", SHA, NULL);
	/* 6: staged in the install folder; 7-8 anywhere else */
	rec1(&b, "stage", "dir", INST, "name", "k.xml", "sha256", SHA, NULL);
	rec1(&b, "stage", "dir", BKA, "name", "k.xml", "sha256", SHA, NULL);
	rec1(&b, "stage", "dir", "Windows\\System32\\config", "name", "SOFTWARE", "sha256", SHA,
	     NULL);
	/* 9: the run's hive; 10: a hive held outside its backup */
	rec1(&b, "hive", "dir", KH_HIVE_DIR, "name", "SOFTWARE", "temp", ".SOFTWARE.khtmp.42",
	     "hold", KH_BACKUP_DIR "\\20240102T030405Z\\registry", "old", SHA, "new", SHA, NULL);
	rec1(&b, "hive", "dir", KH_HIVE_DIR, "name", "SOFTWARE", "temp", ".SOFTWARE.khtmp.42",
	     "hold", KH_STATE_DIR, "old", SHA, "new", SHA, NULL);
	/* 11: a configured value; 12: another; 13, 14: keys of its path */
	rec1(&b, "regval", "key", "hklm\\software\\cmit\\active", "name",
	     "intranetactivationserver", "present", "0", NULL);
	rec1(&b, "regval", "key", "HKLM\\SOFTWARE\\Microsoft", "name", "X", "present", "0", NULL);
	rec1(&b, "regkey", "key", "HKLM\\SOFTWARE\\CMIT", "present", "0", NULL);
	rec1(&b, "regkey", "key", "HKLM\\SOFTWARE\\CMIT\\Active", "present", "0", NULL);
	rec1(&b, "regkey", "key", "HKLM\\SOFTWARE\\CMI", "present", "0", NULL);
	rec1(&b, "commit", NULL);
	assert_int_equal(rec_done(&b), KH_OK);
	assert_int_equal(journal_parse(b.s, b.len, config(), &j), KH_OK);
	assert_int_equal(j.n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < j.n; i++) {
		if (j.j[i].trusted != want[i])
			fail_msg("record %zu: trusted %d, want %d (%s)", i + 1, j.j[i].trusted,
				 want[i], j.j[i].why ? j.j[i].why : "");
	}
	assert_int_equal(j.pid, 42);
	assert_string_equal(j.kind, "run");
	assert_true(j.committed);
	journal_free(&j);
	/* without its begin record nothing is trusted */
	assert_int_equal(journal_parse(strchr(b.s, '\n') + 1, b.len - (size_t)(strchr(b.s, '\n') + 1 - b.s),
				       config(), &j), KH_OK);
	for (size_t i = 0; i < j.n; i++)
		assert_false(j.j[i].trusted);
	journal_free(&j);
	rec_free(&b);
}

/* ---------- recovery over a folder ---------- */

static void put(const struct root *r, const char *rel, const char *text)
{
	assert_int_equal(plat_write_atomic(r->p, rel, text, strlen(text)), KH_OK);
}

/* A run's moves journalled, one record damaged in the middle, the last
 * torn: the intact records are undone, the damaged one left and
 * reported, the journal kept aside. */
static void test_recover_damaged_middle(void **state)
{
	struct root *r = *state;
	struct kh_recbuf b = { 0 };
	struct kh_recovery rec;
	struct kh_backup bk;
	char sha[3][KH_SHA256_HEX], name[3][16], path[256];
	unsigned char *buf;
	size_t len, at = 0;

	memset(&bk, 0, sizeof(bk));
	tu_fmt(bk.id, sizeof(bk.id), "20240102T030405Z");
	bk.reason = kh_strdup("repair");
	assert_int_equal(plat_mkdirs(r->p, ARCH), KH_OK);
	assert_int_equal(backup_save(r->p, &bk), KH_OK);
	rec1(&b, "khreset-journal", "format", "1", "kind", "run", "pid", "42", NULL);
	rec1(&b, "backup", "id", bk.id, "role", "own", NULL);
	for (int i = 0; i < 3; i++) {
		tu_fmt(name[i], sizeof(name[i]), "e%d\tx.xml", i);
		tu_fmt(path, sizeof(path), BKA "\\%s", name[i]);
		put(r, path, name[i]);
		kh_sha256_buf(name[i], strlen(name[i]), sha[i]);
		rec_open(&b, "move");
		rec_str(&b, "name", name[i]);
		rec_str(&b, "from", ARCH);
		rec_str(&b, "to", BKA);
		rec_str(&b, "type", "file");
		rec_u64(&b, "size", strlen(name[i]));
		rec_str(&b, "sha256", sha[i]);
		rec_close(&b);
	}
	rec1(&b, "stage", "dir", INST, "name", "torn", "sha256", SHA, NULL);
	assert_int_equal(rec_done(&b), KH_OK);
	/* damage record 4 (the second move), tear the last */
	for (int nl = 0; nl < 3; at++)
		nl += b.s[at] == '\n';
	b.s[at + 70] ^= 1;
	b.len -= 9;
	assert_int_equal(plat_append_sync(r->p, KH_JOURNAL, b.s, b.len), KH_OK);
	assert_int_equal(journal_recover(r->p, config(), &rec), KH_OK);
	assert_true(rec.found);
	assert_int_equal(rec.undone, 2);
	assert_int_equal(rec.ignored, 1);
	for (int i = 0; i < 3; i++) {
		struct kh_dirent st;

		tu_fmt(path, sizeof(path), ARCH "\\%s", name[i]);
		assert_int_equal(plat_stat(r->p, path, &st), i == 1 ? KH_ERR_NOENT : KH_OK);
		tu_fmt(path, sizeof(path), BKA "\\%s", name[i]);
		assert_int_equal(plat_stat(r->p, path, &st), i == 1 ? KH_OK : KH_ERR_NOENT);
	}
	/* the journal is gone from its place, kept aside byte for byte */
	{
		struct kh_dirent st;
		assert_int_equal(plat_stat(r->p, KH_JOURNAL, &st), KH_ERR_NOENT);
	}
	buf = slurp(r, KH_JOURNAL ".damaged", &len);
	assert_int_equal(len, b.len);
	assert_memory_equal(buf, b.s, len);
	free(buf);
	tu_fmt(path, sizeof(path), "%s", bk.id);
	backup_free(&bk);
	assert_int_equal(backup_load(r->p, path, &bk), KH_OK);
	assert_int_equal(bk.state, KH_BS_ROLLED_BACK);
	backup_free(&bk);
	rec_free(&b);
}

/* A committed journal undoes nothing; a journal holding only a torn
 * first record is a run that never started. */
static void test_recover_committed_and_empty(void **state)
{
	struct root *r = *state;
	struct kh_recbuf b = { 0 };
	struct kh_recovery rec;
	struct kh_dirent st;

	assert_int_equal(plat_mkdirs(r->p, ARCH), KH_OK);
	assert_int_equal(plat_mkdirs(r->p, BKA), KH_OK);
	put(r, BKA "\\kept.xml", "kept");
	rec1(&b, "khreset-journal", "format", "1", "kind", "run", "pid", "42", NULL);
	rec1(&b, "backup", "id", "20240102T030405Z", "role", "own", NULL);
	rec1(&b, "move", "name", "kept.xml", "from", ARCH, "to", BKA, "type", "file", "size",
	     "4", "sha256", "", NULL);
	rec1(&b, "commit", NULL);
	assert_int_equal(rec_done(&b), KH_OK);
	assert_int_equal(plat_append_sync(r->p, KH_JOURNAL, b.s, b.len), KH_OK);
	assert_int_equal(journal_recover(r->p, config(), &rec), KH_OK);
	assert_false(rec.found);
	assert_int_equal(plat_stat(r->p, BKA "\\kept.xml", &st), KH_OK);
	assert_int_equal(plat_stat(r->p, KH_JOURNAL, &st), KH_ERR_NOENT);
	/* a torn first record only */
	assert_int_equal(plat_append_sync(r->p, KH_JOURNAL, b.s, 20), KH_OK);
	assert_int_equal(journal_recover(r->p, config(), &rec), KH_OK);
	assert_false(rec.found);
	assert_int_equal(plat_stat(r->p, KH_JOURNAL, &st), KH_ERR_NOENT);
	/* negative twin: the same journal without its commit is undone */
	b.len = (size_t)(strstr(b.s, " commit\n") - b.s);
	while (b.len && b.s[b.len - 1] != '\n')
		b.len--;
	assert_int_equal(plat_append_sync(r->p, KH_JOURNAL, b.s, b.len), KH_OK);
	assert_int_equal(journal_recover(r->p, config(), &rec), KH_OK);
	assert_true(rec.found);
	assert_int_equal(rec.undone, 1);
	assert_int_equal(plat_stat(r->p, ARCH "\\kept.xml", &st), KH_OK);
	rec_free(&b);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_round_trip),
		cmocka_unit_test(test_record_checksum_independent),
		cmocka_unit_test(test_record_torn_every_byte),
		cmocka_unit_test(test_record_flip_every_byte),
		cmocka_unit_test(test_record_malformed),
		T(test_manifest_round_trip),
		T(test_manifest_damage_refused),
		cmocka_unit_test(test_journal_trust),
		T(test_recover_damaged_middle),
		T(test_recover_committed_and_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
