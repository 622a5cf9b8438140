/* test_keyholder.c - keyholder XML check: well-formed yes, DTD tricks no. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "khreset.h"
#include "keyholder.h"

#define GOOD \
	"<?xml version=\"1.0\" encoding=\"utf-8\"?><License xmlns=\"urn:" \
	"schemas-microsoft-com:windows:store:licensing:ls\"><Binding " \
	"Binding_Type=\"KeyHolder\"/><KeyHolder><KeyId>f912421d-3371-f33c-" \
	"3cf8-22df25e5851f</KeyId></KeyHolder></License>"

#define SECRET "TOPSECRET-4c1e9a"

static char tmp[64];

static int setup(void **state)
{
	char p[128];
	FILE *fp;

	snprintf(tmp, sizeof(tmp), "/tmp/khreset-xml-XXXXXX");
	if (!mkdtemp(tmp))
		return -1;
	snprintf(p, sizeof(p), "%s/secret", tmp);
	if (!(fp = fopen(p, "w")))
		return -1;
	fputs(SECRET "\n", fp);
	fclose(fp);
	/* a FIFO: opening it for reading would block, so a hang means it
	 * was opened */
	snprintf(p, sizeof(p), "%s/fifo", tmp);
	return mkfifo(p, 0600);
}

static int teardown(void **state)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/secret", tmp);
	unlink(p);
	snprintf(p, sizeof(p), "%s/fifo", tmp);
	unlink(p);
	return rmdir(tmp);
}

static int check(const char *doc, char **reason)
{
	return keyholder_check((const unsigned char *)doc, strlen(doc), reason);
}

/* Asserts doc is refused with a reason containing want. */
static void refused(const char *doc, const char *want)
{
	char *why = NULL;

	assert_int_equal(check(doc, &why), KH_ERR_DATA);
	assert_non_null(why);
	if (!strstr(why, want))
		fail_msg("reason '%s' lacks '%s'", why, want);
	assert_null(strstr(why, SECRET));
	free(why);
}

static void test_good(void **state)
{
	char *why = (char *)1;

	assert_int_equal(check(GOOD, &why), KH_OK);
	assert_null(why);
	assert_int_equal(check(GOOD, NULL), KH_OK);
	assert_int_equal(check("\xef\xbb\xbf" GOOD "\n", NULL), KH_OK);  /* BOM */
	/* negative twin: one byte less */
	refused("<?xml version=\"1.0\"?><License><KeyHolder/></License",
		"not well-formed XML (line 1:");
}

static void test_malformed_line_number(void **state)
{
	char *why = NULL;

	refused("<?xml version=\"1.0\"?>\n<License>\n  <KeyId>x</KeyHolder>\n"
		"</License>\n", "not well-formed XML (line 3: ");
	/* no libxml2 newline left at the end */
	assert_int_equal(check("<a>\n<b>\n</c></a>", &why), KH_ERR_DATA);
	assert_non_null(strstr(why, "not well-formed XML (line 3: Opening and "
			       "ending tag mismatch"));
	assert_null(strchr(why, '\n'));
	assert_int_equal(why[strlen(why) - 1], ')');
	assert_int_not_equal(why[strlen(why) - 2], ' ');
	free(why);
	refused("<a/><b/>", "Extra content");
	refused("<a>&undeclared;</a>", "not well-formed XML");
}

static void test_doctype(void **state)
{
	refused("<!DOCTYPE License><License/>", "DOCTYPE not allowed");
	refused("<?xml version=\"1.0\"?>\n<!DOCTYPE License [<!ELEMENT License "
		"EMPTY>]><License/>", "DOCTYPE not allowed");
	/* after an earlier error libxml2 still records the DOCTYPE's entities,
	 * in a document of its own that must be freed (found by fuzz_keyholder) */
	refused("<?xml ver\x8d\x97on=\"1.0\"?>\n<!DOCTYPE a [<!ENTITY x\">]>\n<a>&e;</a>\n",
		"not well-formed XML");
	/* negative twin: the same document without it */
	assert_int_equal(check("<?xml version=\"1.0\"?>\n<License/>", NULL), KH_OK);
}

static void test_billion_laughs(void **state)
{
	static const char bomb[] =
		"<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n"
		"<!ENTITY lol \"lol\">\n"
		"<!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
		"<!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
		"<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
		"<!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
		"<!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">\n"
		"<!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">\n"
		"<!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">\n"
		"<!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">\n"
		"<!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">\n"
		"]>\n<lolz>&lol9;</lolz>\n";
	struct timespec t0, t1;
	double ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 100; i++)
		refused(bomb, "DOCTYPE not allowed");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	     (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	if (ms > 2000)
		fail_msg("100 bombs took %.0f ms", ms);
}

/* External entities pointing at a real file and at a FIFO: refused, the
 * content never appears, the FIFO is never opened (alarm would fire). */
static void test_xxe(void **state)
{
	static const struct { const char *pre, *post; } doc[] = {
		{ "<?xml version=\"1.0\"?>\n<!DOCTYPE a [<!ENTITY x SYSTEM "
		  "\"file://", "\">]>\n<a>&x;</a>" },
		{ "<?xml version=\"1.0\"?>\n<!DOCTYPE a [<!ENTITY % p SYSTEM "
		  "\"file://", "\"> %p;]>\n<a/>" },
		{ "<?xml version=\"1.0\"?>\n<!DOCTYPE a SYSTEM \"file://",
		  "\">\n<a/>" },
		{ "<?xml version=\"1.0\"?>\n<!DOCTYPE a [<!ENTITY x SYSTEM \"",
		  "\">]>\n<a attr=\"&x;\">&x;</a>" },
	};
	static const char *target[] = { "secret", "fifo" };
	char buf[512];

	alarm(10);
	for (size_t i = 0; i < sizeof(doc) / sizeof(doc[0]); i++)
		for (size_t j = 0; j < 2; j++) {
			int r = snprintf(buf, sizeof(buf), "%s%s/%s%s", doc[i].pre,
					 tmp, target[j], doc[i].post);

			assert_true(r > 0 && (size_t)r < sizeof(buf));
			refused(buf, "DOCTYPE not allowed");
		}
	alarm(0);
}

static void test_empty_and_binary(void **state)
{
	static const unsigned char bin[] = { 0x00, 0x01, 0xff, 0xfe, 'P', 'K',
					     0x03, 0x04, 0x80, 0x00 };
	char *why = NULL;

	assert_int_equal(keyholder_check((const unsigned char *)"", 0, &why),
			 KH_ERR_DATA);
	assert_string_equal(why, "empty document");
	free(why);
	assert_int_equal(keyholder_check(NULL, 0, NULL), KH_ERR_DATA);
	assert_int_equal(keyholder_check(bin, sizeof(bin), &why), KH_ERR_DATA);
	assert_non_null(strstr(why, "not well-formed XML"));
	free(why);
	refused("   \n\n", "not well-formed XML");
	refused("just text", "not well-formed XML");
	refused("<?xml version=\"1.0\" encoding=\"no-such-charset\"?><a/>",
		"not well-formed XML");
	/* negative twin: a minimal document is fine */
	assert_int_equal(check("<a/>", NULL), KH_OK);
}

/* A document of n elements <e a0=".." .../> nested or side by side. */
static char *shape(int elems, int attrs, int nested)
{
	size_t cap = (size_t)elems * ((size_t)attrs * 12 + 16) + 64, o = 0;
	char *d = malloc(cap);

	assert_non_null(d);
	o += (size_t)snprintf(d, cap, "<r>");
	for (int i = 0; i < elems; i++) {
		o += (size_t)snprintf(d + o, cap - o, "<e");
		for (int j = 0; j < attrs; j++)
			o += (size_t)snprintf(d + o, cap - o, " a%d=\"1\"", j);
		o += (size_t)snprintf(d + o, cap - o, nested ? ">" : "/>");
	}
	for (int i = 0; nested && i < elems; i++)
		o += (size_t)snprintf(d + o, cap - o, "</e>");
	snprintf(d + o, cap - o, "</r>");
	return d;
}

static void shape_ok(int elems, int attrs, int nested)
{
	char *d = shape(elems, attrs, nested), *why = NULL;

	if (check(d, &why) != KH_OK)
		fail_msg("%d x %d attributes (%s): refused: %s", elems, attrs,
			 nested ? "nested" : "side by side", why);
	free(d);
}

static void shape_refused(int elems, int attrs, int nested, const char *want)
{
	char *d = shape(elems, attrs, nested);

	refused(d, want);
	free(d);
}

/* issue 8 item 13: the work per file is bounded: attributes of one element
 * (a 1 MiB keyholder with 112,000 of them took minutes), nesting and
 * nodes; each bound with its twin just inside it. */
static void test_bounds(void **state)
{
	char *ns, *p;

	shape_refused(1, 112000, 0, "too complex for a keyholder: more than 64 attributes on one element");
	shape_refused(1, KH_XML_MAX_ATTRS + 1, 0, "more than 64 attributes");
	shape_ok(1, KH_XML_MAX_ATTRS, 0);
	shape_refused(KH_XML_MAX_DEPTH, 0, 1, "nested more than 64 deep");   /* + <r> */
	shape_ok(KH_XML_MAX_DEPTH - 1, 0, 1);
	shape_refused(100000, 0, 1, "nested more than 64 deep");
	shape_refused(KH_XML_MAX_NODES, 0, 0, "more than 20000 nodes");
	shape_ok(KH_XML_MAX_NODES - 1, 0, 0);
	shape_ok(2000, KH_XML_MAX_ATTRS, 0);
	/* namespace declarations count as attributes */
	assert_non_null(ns = p = malloc(100000 * 24 + 16));
	p += sprintf(p, "<a");
	for (int i = 0; i < 100000; i++)
		p += sprintf(p, " xmlns:p%d=\"u%d\"", i, i);
	strcpy(p, "/>");
	refused(ns, "more than 64 attributes");
	free(ns);
	/* one long text of many entity references is one node */
	assert_non_null(ns = p = malloc(200000 * 5 + 16));
	p += sprintf(p, "<a>");
	for (int i = 0; i < 200000; i++)
		p += sprintf(p, "&amp;");
	strcpy(p, "</a>");
	assert_int_equal(check(ns, NULL), KH_OK);
	free(ns);
}

/* Repeated use leaves nothing behind (ASan counts) and keeps working. */
static void test_repeat(void **state)
{
	for (int i = 0; i < 500; i++) {
		assert_int_equal(check(GOOD, NULL), KH_OK);
		refused("<a><b></a>", "line 1");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_malformed_line_number),
		cmocka_unit_test(test_doctype),
		cmocka_unit_test(test_billion_laughs),
		cmocka_unit_test(test_xxe),
		cmocka_unit_test(test_empty_and_binary),
		cmocka_unit_test(test_repeat),
		cmocka_unit_test(test_bounds),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
