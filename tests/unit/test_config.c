/* test_config.c - khreset.ini: defaults, every key, and each bad input named
 * by file, line and key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "khreset.h"
#include "testutil.h"

static char dir[] = "/tmp/khreset-cfg.XXXXXX";
static char path[256];

static int setup(void **state)
{
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/khreset.ini", dir);
	return 0;
}

static int teardown(void **state)
{
	unlink(path);
	rmdir(dir);
	return 0;
}

static int load_bytes(const char *text, size_t len, struct kh_config **c)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	kh_clearerr();
	return config_load(path, NULL, c);
}

static int load(const char *text, struct kh_config **c)
{
	return load_bytes(text, strlen(text), c);
}

static void test_defaults(void **state)
{
	struct kh_config *c;

	assert_int_equal(config_load(NULL, "/media/payload", &c), KH_OK);
	assert_string_equal(c->archive_dir, "ProgramData\\Microsoft\\Windows\\ClipSVC\\Archive\\KeyHolder");
	assert_string_equal(c->bundle_dir, "/media/payload/bundle");
	assert_null(c->public_key);
	assert_int_equal(c->max_file_size, 1048576);
	assert_int_equal(c->require_upgrade, 1);
	assert_int_equal(c->keep_backups, 10);
	assert_string_equal(c->clipsvc_service, "ClipSVC");
	assert_string_equal(c->activation_service, "CmitClientSVC");
	assert_int_equal(c->task_max_attempts, 12);
	assert_int_equal(c->n_reg, 1);
	assert_string_equal(c->reg[0].name, "IntranetActivationServer");
	config_free(c);
}

static void test_full_file(void **state)
{
	struct kh_config *c;

	assert_int_equal(load("; comment\n[bundle]\ndir = kh\npublic_key = k.pub ; inline comment\n"
			      "[policy]\nrequire_upgrade = false\nkeep_backups = 3\n"
			      "[clipsvc]\ntimeout = 30\n[activation]\nservice =\n"
			      "command = C:\\Tools\\act.exe /now\n"
			      "[registry]\nvalue1 = HKLM\\SOFTWARE\\CMIT\\Active | ActiveMode | REG_DWORD | 0x10\n"
			      "value2 = HKLM\\SOFTWARE\\CMIT\\Active | Url | REG_SZ | http://a|b\n"
			      "[log]\nlevel = debug\n", &c), KH_OK);
	assert_non_null(strstr(c->bundle_dir, dir));
	assert_non_null(strstr(c->public_key, "/k.pub"));
	assert_int_equal(c->require_upgrade, 0);
	assert_int_equal(c->keep_backups, 3);
	assert_int_equal(c->clipsvc_timeout, 30);
	assert_null(c->activation_service);
	assert_string_equal(c->activation_command, "C:\\Tools\\act.exe /now");
	assert_int_equal(c->n_reg, 2);
	assert_int_equal(c->reg[0].type, KH_REG_DWORD);
	assert_string_equal(c->reg[0].data, "0x10");
	assert_string_equal(c->reg[1].data, "http://a|b");
	assert_int_equal(c->log_level, KH_LOG_DEBUG);
	config_free(c);
}

static void expect_bad(const char *text, const char *needle)
{
	struct kh_config *c = NULL;

	assert_int_equal(load(text, &c), KH_ERR_CONFIG);
	assert_null(c);
	if (!strstr(kh_lasterr(), needle))
		fail_msg("'%s' lacks '%s'", kh_lasterr(), needle);
	assert_non_null(strstr(kh_lasterr(), "khreset.ini"));
}

static void test_bad_syntax(void **state)
{
	expect_bad("[policy]\nkeep_backups = 3\nnonsense here\n", "line 3: expected");
	expect_bad("[policy\nkeep_backups = 3\n", "line 1: malformed section");
	expect_bad("= 3\n", "line 1: expected");
}

static void test_bad_values(void **state)
{
	expect_bad("[policy]\n\nkeep_backups = many\n", "line 3: [policy] keep_backups");
	expect_bad("[policy]\nrequire_upgrade = maybe\n", "expected true or false");
	expect_bad("[keyholder]\narchive_dir = C:\\ProgramData\n", "relative to the Windows root");
	expect_bad("[keyholder]\narchive_dir = ProgramData\\..\\Windows\n", "relative to the Windows root");
	expect_bad("[keyholder]\nmax_file_size = 12\n", "max_file_size");
	expect_bad("[activation]\ncommand = act.exe\n", "absolute path");
	expect_bad("[registry]\nvalue1 = HKCU\\Software | A | REG_SZ | x\n", "HKLM");
	expect_bad("[registry]\nvalue1 = HKLM\\SOFTWARE\\A | A | REG_BINARY | x\n", "type must be");
	expect_bad("[registry]\nvalue1 = HKLM\\SOFTWARE\\A | A | REG_DWORD | 5000000000\n", "32-bit");
	expect_bad("[registry]\nvalue1 = HKLM\\SOFTWARE\\A | A\n", "KEY | NAME | TYPE | DATA");
	expect_bad("[log]\nlevel = loud\n", "expected error, warn, info or debug");
	expect_bad("[task]\nname = khreset\n", "must start with");
}

/* Bytes minIni would misread are refused, naming the line. */
static void test_bad_bytes(void **state)
{
	static const char nul[] = "[policy]\nkeep_backups = 3\0 5\n";
	struct kh_config *c = NULL;
	char *text = malloc(1100);

	assert_int_equal(load_bytes(nul, sizeof(nul) - 1, &c), KH_ERR_CONFIG);
	assert_null(c);
	assert_non_null(strstr(kh_lasterr(), "khreset.ini line 2: NUL byte"));
	/* a line of 1022 bytes is read, one of 1023 is not */
	assert_non_null(text);
	memcpy(text, "[policy]\nkeep_backups = 3 ;", 27);
	memset(text + 27, 'x', 1022 - 18);
	strcpy(text + 27 + 1022 - 18, "\n");
	assert_int_equal(load(text, &c), KH_OK);
	assert_int_equal(c->keep_backups, 3);
	config_free(c);
	strcpy(text + 27 + 1022 - 18, "x\n");
	expect_bad(text, "line 2: line longer than 1022 bytes");
	free(text);
}

/* A value is named by its own line, also when its key is given twice. */
static void test_line_of_repeated_key(void **state)
{
	expect_bad("[policy]\nkeep_backups = 3\n[log]\n[policy]\nkeep_backups = many\n",
		   "line 5: [policy] keep_backups");
}

/* The file is not read through a symbolic link; the same file is read as a
 * regular file. */
static void test_symlink_refused(void **state)
{
	struct kh_config *c = NULL;
	char link[300];

	snprintf(link, sizeof(link), "%s/link.ini", dir);
	assert_int_equal(load("[policy]\nkeep_backups = 4\n", &c), KH_OK);
	config_free(c);
	assert_int_equal(symlink("khreset.ini", link), 0);
	assert_int_equal(config_load(link, NULL, &c), KH_ERR_UNSAFE);
	assert_null(c);
	assert_non_null(strstr(kh_lasterr(), "symbolic link"));
	unlink(link);
	assert_int_equal(config_load(path, NULL, &c), KH_OK);
	assert_int_equal(c->keep_backups, 4);
	config_free(c);
}

/* Bytes already read: named as shown, bundle relative to base. */
static void test_parse_bytes(void **state)
{
	static const char text[] = "[bundle]\ndir = kh\n[policy]\nkeep_backups = 2\n";
	struct kh_config *c = NULL;

	assert_int_equal(config_parse(text, sizeof(text) - 1, "/vol/khreset.ini", "/vol/base",
				      &c), KH_OK);
	assert_string_equal(c->path, "/vol/khreset.ini");
	assert_string_equal(c->bundle_dir, "/vol/base/kh");
	assert_int_equal(c->keep_backups, 2);
	config_free(c);
	assert_int_equal(config_parse("[policy]\nkeep_backups = 0\n", 26, "/vol/khreset.ini",
				      "/vol/base", &c), KH_ERR_CONFIG);
	assert_null(c);
	assert_non_null(strstr(kh_lasterr(), "/vol/khreset.ini line 2: [policy] keep_backups"));
	assert_int_equal(config_parse(NULL, 0, NULL, "/vol/base", &c), KH_OK);
	assert_null(c->path);
	assert_string_equal(c->bundle_dir, "/vol/base/bundle");
	config_free(c);
}

/* issue 8 item 14: what the registry writers would refuse is refused here,
 * before anything changes: names that are not UTF-8, too long or hold a
 * control character, empty key parts, DWORDs the writers read otherwise. */
static void test_registry_values(void **state)
{
	char line[1100], part[300];
	struct kh_config *c = NULL;

	expect_bad("[registry]\nvalue1 = HKLM\\SOFTWARE\\A | N\xff\xfe" "ame | REG_SZ | x\n",
		   "line 2: [registry] value1");
	expect_bad("[registry]\nvalue1 = HKLM\\SOFTWARE\\A | N\xff\xfe" "ame | REG_SZ | x\n",
		   "not UTF-8");
	expect_bad("[registry]\nvalue1 = HKLM\\SOFTWARE\\\xc3\x28 | N | REG_SZ | x\n",
		   "not UTF-8");
	expect_bad("[registry]\nvalue1 = HKLM\\SOFTWARE\\A | N\tX | REG_SZ | x\n",
		   "control character");
	expect_bad("[registry]\nvalue1 = HKLM\\SOFTWARE\\A\\\\B | N | REG_SZ | x\n", "empty part");
	expect_bad("[registry]\nvalue1 = HKLM\\SOFTWARE\\A\\ | N | REG_SZ | x\n", "empty part");
	expect_bad("[registry]\nvalue1 = HKLM\\SOFTWARE\\A | N | REG_SZ | caf\xe9\n",
		   "not UTF-8 text");
	/* a key part of 255 characters is taken, 256 are not (CJK: 3 bytes each
	 * in UTF-8, one character each for Windows) */
	memset(part, 'k', 255);
	part[255] = '\0';
	tu_fmt(line, sizeof(line), "[registry]\nvalue1 = HKLM\\SOFTWARE\\%s | N | REG_SZ | x\n", part);
	assert_int_equal(load(line, &c), KH_OK);
	config_free(c);
	tu_fmt(line, sizeof(line), "[registry]\nvalue1 = HKLM\\SOFTWARE\\%sk | N | REG_SZ | x\n", part);
	expect_bad(line, "256 characters long, more than the 255");
	{
		char cjk[800] = "";

		for (int i = 0; i < 255; i++)
			strcat(cjk, "\xe5\xaf\x86");
		tu_fmt(line, sizeof(line), "[registry]\nvalue1 = HKLM\\SOFTWARE\\%s | N | REG_SZ | x\n", cjk);
		assert_int_equal(load(line, &c), KH_OK);
		config_free(c);
	}
	/* the same value twice is a contradiction, as Windows compares names */
	expect_bad("[registry]\nvalue1 = HKLM\\SOFTWARE\\A | N | REG_SZ | x\n"
		   "value2 = hklm\\software\\a | n | REG_SZ | y\n",
		   "line 3: [registry] value2");
	expect_bad("[registry]\nvalue1 = HKLM\\SOFTWARE\\A | N | REG_SZ | x\n"
		   "value2 = hklm\\software\\a | n | REG_SZ | y\n", "same value");
	/* valueN: N is a number */
	assert_int_equal(load("[registry]\nvalueX = HKLM\\SOFTWARE\\A | N | REG_SZ | x\n"
			      "value1 = HKLM\\SOFTWARE\\A | M | REG_SZ | x\n", &c), KH_OK);
	assert_int_equal(c->n_reg, 1);
	config_free(c);
}

/* issue 10 item 7: HKLM32\SOFTWARE\X names the 32-bit view (the
 * activation client's); the view is in the key, as every body and the
 * journal read it.  Its twins: HKLM32 where both views are one key, or
 * already inside WOW6432Node, is refused; the same value named both ways
 * is a value given twice. */
static void test_registry_view(void **state)
{
	struct kh_config *c;
	char plain[64];

	assert_int_equal(load("[registry]\nvalue1 = HKLM32\\SOFTWARE\\CMIT\\Active | Url | REG_SZ | x\n"
			      "value2 = hklm32\\software\\CMIT | Mode | REG_DWORD | 2\n"
			      "value3 = HKLM\\SOFTWARE\\CMIT\\Active | Url | REG_SZ | y\n", &c), KH_OK);
	assert_int_equal(c->n_reg, 3);
	assert_string_equal(c->reg[0].key, "HKLM32\\SOFTWARE\\CMIT\\Active");
	assert_int_equal(plat_reg_view_of(c->reg[0].key, plain, sizeof(plain)), KH_VIEW_32);
	assert_string_equal(plain, "HKLM\\SOFTWARE\\CMIT\\Active");
	assert_int_equal(plat_reg_view_of(c->reg[1].key, plain, sizeof(plain)), KH_VIEW_32);
	assert_string_equal(plain, "HKLM\\software\\CMIT");
	assert_int_equal(plat_reg_view_of(c->reg[2].key, plain, sizeof(plain)), KH_VIEW_64);
	assert_string_equal(plain, c->reg[2].key);
	config_free(c);
	assert_int_equal(plat_reg_view_of("HKLM32", plain, sizeof(plain)), KH_VIEW_64);
	assert_int_equal(plat_reg_view_of("HKLM32X\\SOFTWARE", plain, sizeof(plain)), KH_VIEW_64);
	assert_int_equal(plat_reg_view_of("HKLM32\\SOFTWARE\\A", plain, 8), KH_VIEW_32);
	assert_string_equal(plain, "");
	/* an explicit WOW6432Node path stays what it says */
	assert_int_equal(load("[registry]\nvalue1 = HKLM\\SOFTWARE\\WOW6432Node\\CMIT | U | REG_SZ | x\n",
			      &c), KH_OK);
	config_free(c);

	expect_bad("[registry]\nvalue1 = HKLM32\\SYSTEM\\Setup | N | REG_SZ | x\n",
		   "same in both registry views");
	expect_bad("[registry]\nvalue1 = HKLM32\\SOFTWARE\\WOW6432Node\\CMIT | N | REG_SZ | x\n",
		   "already the 32-bit view");
	expect_bad("[registry]\nvalue1 = HKLM64\\SOFTWARE\\CMIT | N | REG_SZ | x\n",
		   "HKLM32\\SOFTWARE\\ (the 32-bit view)");
	expect_bad("[registry]\nvalue1 = HKLM32\\SOFTWARE\\A\\\\B | N | REG_SZ | x\n", "empty part");
	expect_bad("[registry]\nvalue1 = HKLM32\\SOFTWARE\\CMIT | N | REG_SZ | x\n"
		   "value2 = HKLM\\SOFTWARE\\WOW6432Node\\cmit | n | REG_SZ | y\n",
		   "line 3: [registry] value2");
	expect_bad("[registry]\nvalue1 = HKLM\\SOFTWARE\\WOW6432Node\\CMIT | N | REG_SZ | x\n"
		   "value2 = HKLM32\\SOFTWARE\\cmit | n | REG_SZ | y\n", "same value");
}

/* issue 8 items 14, 15: a DWORD is read exactly as written, by the writers
 * too: decimal without sign or leading zero, or 0x-hex; 010 is refused. */
static void test_dword_syntax(void **state)
{
	static const char *const good[] = { "0", "1", "4294967295", "0x0", "0x10", "0XfF",
					    "0xffffffff", "0x00000001", NULL };
	static const char *const bad[] = { "+5", "-1", "010", "00", "0x", "0x1G", "4294967296",
					   "0x100000000", "1e3", "5 6", "0b1", NULL };
	struct kh_config *c = NULL;
	char text[256];

	for (int i = 0; good[i]; i++) {
		tu_fmt(text, sizeof(text), "[registry]\nvalue1 = HKLM\\SOFTWARE\\A | N | REG_DWORD | %s\n",
		       good[i]);
		if (load(text, &c) != KH_OK)
			fail_msg("DWORD '%s' refused: %s", good[i], kh_lasterr());
		assert_string_equal(c->reg[0].data, good[i]);
		config_free(c);
	}
	for (int i = 0; bad[i]; i++) {
		tu_fmt(text, sizeof(text), "[registry]\nvalue1 = HKLM\\SOFTWARE\\A | N | REG_DWORD | %s\n",
		       bad[i]);
		expect_bad(text, "line 2: [registry] value1");
		expect_bad(text, "REG_DWORD data must be a 32-bit number");
	}
}

/* issue 8 item 15: the same key twice is refused naming both lines, as
 * Windows compares names, also across repeated [section] headers. */
static void test_duplicate_keys(void **state)
{
	expect_bad("[clipsvc]\ntimeout = 5\ntimeout = 7\n",
		   "line 3: [clipsvc] timeout = '7': given twice (first on line 2)");
	expect_bad("[clipsvc]\ntimeout = 5\n[ClipSVC]\nTimeout = 7\n", "line 4: [ClipSVC] Timeout");
	expect_bad("[registry]\nvalue1 = HKLM\\SOFTWARE\\A | N | REG_SZ | x\n"
		   "value1 = HKLM\\SOFTWARE\\A | M | REG_SZ | x\n", "given twice (first on line 2)");
}

/* issue 8 item 15: durations Task Scheduler takes, P[nD][T[nH][nM][nS]];
 * the interval within PT1M..P31D. */
static void test_durations(void **state)
{
	static const char *const bad[] = { "P", "PT", "P1H", "PT1D", "P1DT", "PTM", "P-1D",
					   "pt2m", "PT2M5", "PT1H1H", "P1.5D", NULL };
	struct kh_config *c = NULL;
	char text[128];

	for (int i = 0; bad[i]; i++) {
		tu_fmt(text, sizeof(text), "[task]\ndelay = %s\n", bad[i]);
		expect_bad(text, "line 2: [task] delay");
		expect_bad(text, "ISO 8601 duration");
	}
	expect_bad("[task]\ninterval = PT30S\n", "from PT1M to P31D");
	expect_bad("[task]\ninterval = P32D\n", "from PT1M to P31D");
	assert_int_equal(load("[task]\ndelay = PT0S\ninterval = P1DT2H3M4S\n", &c), KH_OK);
	assert_string_equal(c->task_delay, "PT0S");
	assert_string_equal(c->task_interval, "P1DT2H3M4S");
	config_free(c);
}

/* issue 8 item 15: whole numbers as written, no sign, no leading zero. */
static void test_number_syntax(void **state)
{
	expect_bad("[policy]\nkeep_backups = +3\n", "line 2: [policy] keep_backups");
	expect_bad("[policy]\nkeep_backups = 03\n", "line 2: [policy] keep_backups");
	expect_bad("[clipsvc]\ntimeout = 0x10\n", "line 2: [clipsvc] timeout");
}

/* Text encodings: a UTF-8 signature is skipped, UTF-16 is refused, a value
 * that is not UTF-8 is refused naming its line and key. */
static void test_encodings(void **state)
{
	static const char utf16[] = "\xff\xfe[\0p\0";
	struct kh_config *c = NULL;

	assert_int_equal(load("\xef\xbb\xbf[policy]\nkeep_backups = 4\n", &c), KH_OK);
	assert_int_equal(c->keep_backups, 4);
	config_free(c);
	assert_int_equal(load_bytes(utf16, sizeof(utf16) - 1, &c), KH_ERR_CONFIG);
	assert_non_null(strstr(kh_lasterr(), "UTF-16"));
	expect_bad("[clipsvc]\nservice = Clip\xa4SVC\n", "line 2: [clipsvc] service");
	expect_bad("[clipsvc]\nservice = Clip\xa4SVC\n", "not UTF-8");
	/* the message itself shows the bad byte escaped */
	assert_non_null(strstr(kh_lasterr(), "Clip\\xa4SVC"));
	/* comments may be in any encoding (a GBK comment from Notepad) */
	assert_int_equal(load("; \xc3\xfb\xd7\xd6\n[policy]\nkeep_backups = 5\n", &c), KH_OK);
	config_free(c);
}

/* issue 8 item 10: the volume's own file names its bundle below the root,
 * relative to its folder; a path that would leave the volume is refused. */
static void test_below_root(void **state)
{
	static const char *const bad[] = { "/etc/khreset", "\\\\server\\share", "C:\\bundle",
					   "..\\..\\..\\..\\bundle", "bundle/../../x", NULL };
	static const char ok[] = "[bundle]\ndir = kh/set\npublic_key = kh\\k.pub\n";
	struct kh_config *c = NULL;
	char text[128];

	assert_int_equal(config_parse_root(ok, sizeof(ok) - 1, "/vol/W/khreset.ini",
					   "Windows/Setup/Scripts/khreset", &c), KH_OK);
	assert_true(c->bundle_below_root);
	assert_string_equal(c->bundle_dir, "Windows\\Setup\\Scripts\\khreset\\kh\\set");
	assert_string_equal(c->public_key, "Windows\\Setup\\Scripts\\khreset\\kh\\k.pub");
	config_free(c);
	assert_int_equal(config_parse_root(NULL, 0, NULL, "Windows/Setup/Scripts/khreset", &c), KH_OK);
	assert_true(c->bundle_below_root);
	assert_string_equal(c->bundle_dir, "Windows\\Setup\\Scripts\\khreset\\bundle");
	config_free(c);
	for (int i = 0; bad[i]; i++) {
		for (int k = 0; k < 2; k++) {
			tu_fmt(text, sizeof(text), "[bundle]\n%s = %s\n", k ? "public_key" : "dir", bad[i]);
			assert_int_equal(config_parse_root(text, strlen(text), "/vol/W/khreset.ini",
							   "Windows/Setup/Scripts/khreset", &c),
					 KH_ERR_CONFIG);
			assert_null(c);
			if (!strstr(kh_lasterr(), "/vol/W/khreset.ini line 2: [bundle]") ||
			    !strstr(kh_lasterr(), "outside the volume"))
				fail_msg("%s: %s", bad[i], kh_lasterr());
		}
	}
	/* the operator's own file on the host names host paths */
	assert_int_equal(config_parse("[bundle]\ndir = /srv/bundle\n", 27, "/etc/kh.ini", NULL, &c),
			 KH_OK);
	assert_false(c->bundle_below_root);
	assert_string_equal(c->bundle_dir, "/srv/bundle");
	config_free(c);
}

static void test_unknown_key_warns(void **state)
{
	struct kh_config *c;

	assert_int_equal(load("[policy]\nfrobnicate = 1\n[nosuch]\nx = 1\n", &c), KH_OK);
	assert_int_equal(c->keep_backups, 10);
	config_free(c);
}

static void test_missing_file(void **state)
{
	struct kh_config *c;

	assert_int_equal(config_load("/nonexistent/khreset.ini", NULL, &c), KH_ERR_NOENT);
	assert_non_null(strstr(kh_lasterr(), "/nonexistent/khreset.ini"));
}

/* [clipsvc] root_keyholder: a keyholder name, else refused naming the
 * line; default none (the bundle's first file). */
static void test_root_keyholder(void **state)
{
	struct kh_config *c;

	assert_int_equal(load("[clipsvc]\n", &c), KH_OK);
	assert_null(c->root_keyholder);
	config_free(c);
	assert_int_equal(load("[clipsvc]\nroot_keyholder = F912421D-3371-F33C-3CF8-22DF25E5851F.xml\n",
			      &c), KH_OK);
	assert_string_equal(c->root_keyholder, "F912421D-3371-F33C-3CF8-22DF25E5851F.xml");
	config_free(c);
	assert_int_equal(load("[clipsvc]\n\nroot_keyholder = root.xml\n", &c), KH_ERR_CONFIG);
	assert_non_null(strstr(kh_lasterr(), "line 3"));
	assert_non_null(strstr(kh_lasterr(), "root_keyholder"));
}

/* The budget: --wait when given (0 too), else 2 x clipsvc.timeout +
 * activation.timeout. */
static void test_budget(void **state)
{
	struct kh_config *c;

	assert_int_equal(config_load(NULL, "/media/payload", &c), KH_OK);
	assert_int_equal(config_budget_s(c, -1), 2 * 60 + 120);
	assert_int_equal(config_budget_s(c, 30), 30);
	assert_int_equal(config_budget_s(c, 0), 0);
	config_free(c);
	assert_int_equal(load("[clipsvc]\ntimeout = 10\n[activation]\ntimeout = 7\n", &c), KH_OK);
	assert_int_equal(config_budget_s(c, -1), 27);
	config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_full_file),
		cmocka_unit_test(test_bad_syntax),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_bad_bytes),
		cmocka_unit_test(test_line_of_repeated_key),
		cmocka_unit_test(test_symlink_refused),
		cmocka_unit_test(test_parse_bytes),
		cmocka_unit_test(test_unknown_key_warns),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_registry_values),
		cmocka_unit_test(test_registry_view),
		cmocka_unit_test(test_dword_syntax),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_number_syntax),
		cmocka_unit_test(test_encodings),
		cmocka_unit_test(test_below_root),
		cmocka_unit_test(test_root_keyholder),
		cmocka_unit_test(test_budget),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
