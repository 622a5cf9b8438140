/* upgrade.c - which upgrade the system came from, decided once for both
 * builds from the raw Source OS keys the bodies return.
 *
 * Names are parsed strictly: Setup writes "Source OS (Updated on M/D/YYYY
 * h:mm:ss)"; anything else (no time, an hour of 25, 2/30, text after the
 * ")") carries no date rather than a guessed one.
 *
 * The order of upgrades is one function, newer(): the date in the name,
 * by build where the dates tie or a name does not parse.  Last-write
 * times cannot order them: a later upgrade rewrites every Source OS key,
 * so on a real hive upgraded twice both keys carry the second upgrade's
 * time.  For the same reason the last-write time is the upgrade's own time
 * only for the newest key; an older one takes the date in its name. */
#include <string.h>
#include <strings.h>

#include "khreset.h"
#include "upgrade.h"

static const char *const from_names[] = { NULL, "last-write", "name" };

const char *upgrade_time_from_name(enum kh_time_from f)
{
	return (unsigned)f < 3 ? from_names[f] : NULL;
}

/* Reads 1..max decimal digits; NULL when there are none. */
static const char *digits(const char *s, int max, int *out)
{
	int n = 0, v = 0;

	while (n < max && s[n] >= '0' && s[n] <= '9')
		v = v * 10 + (s[n++] - '0');
	*out = v;
	return n ? s + n : NULL;
}

/* s, then the literal c; NULL when either is missing. */
static const char *field(const char *s, int max, int *out, char c)
{
	s = s ? digits(s, max, out) : NULL;
	return s && *s == c ? s + 1 : NULL;
}

static int leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return days[m - 1] + (m == 2 && leap(y));
}

/* Days since 1970-01-01 of a valid civil date (H. Hinnant's algorithm). */
static int64_t civil_days(int y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = y / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int64_t upgrade_name_date(const char *key)
{
	static const char pre[] = "Source OS (Updated on ";
	int mo, d, y, h, mi, s;
	const char *p;

	if (!key || strncasecmp(key, pre, sizeof(pre) - 1) != 0)
		return 0;
	p = field(key + sizeof(pre) - 1, 2, &mo, '/');
	p = field(p, 2, &d, '/');
	p = field(p, 4, &y, ' ');
	p = field(p, 2, &h, ':');
	p = field(p, 2, &mi, ':');
	p = field(p, 2, &s, ')');
	if (!p || *p || y < 1970 || mo < 1 || mo > 12 || d < 1 ||
	    d > month_days(y, mo) || h > 23 || mi > 59 || s > 59)
		return 0;
	return civil_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

long upgrade_build(const char *text)
{
	int v;
	const char *end = text ? digits(text, 9, &v) : NULL;

	return end && !*end && v > 0 ? v : 0;
}

/* The one order of upgrades: the later date in the name; by build where
 * the dates tie or a name does not parse; then the key name, so that the
 * listing order never decides. */
static int newer(const struct kh_upgrade *a, const struct kh_upgrade *b)
{
	if (a->name_date && b->name_date && a->name_date != b->name_date)
		return a->name_date > b->name_date;
	if (a->build != b->build)
		return a->build > b->build;
	if (!a->name_date != !b->name_date)
		return a->name_date != 0;
	return strcmp(a->key, b->key) > 0;
}

static void interpret(const struct kh_source_os *s, struct kh_upgrade *u)
{
	memset(u, 0, sizeof(*u));
	u->key = s->key ? s->key : "";
	u->build = upgrade_build(s->build);
	u->product = s->product;
	u->name_date = upgrade_name_date(s->key);
	u->last_write = s->written > 0 ? s->written : 0;
}

/* The newest of the entries keep() accepts.  Dated and undated ones are
 * ranked apart, then the two winners by newer(): data whose dates and
 * builds disagree (an order with a cycle) still gives one answer for any
 * listing order. */
static int best(const struct kh_source_os *list, size_t n, long below,
		struct kh_upgrade *out)
{
	struct kh_upgrade win[2], u;
	int have[2] = { 0, 0 };

	for (size_t i = 0; i < n; i++) {
		int k;

		interpret(&list[i], &u);
		if (below > 0 && (u.build <= 0 || u.build >= below))
			continue;
		k = u.name_date != 0;
		if (!have[k] || newer(&u, &win[k]))
			win[k] = u;
		have[k] = 1;
	}
	if (!have[0] && !have[1])
		return 0;
	*out = !have[0] ? win[1] : !have[1] ? win[0]
	     : newer(&win[0], &win[1]) ? win[0] : win[1];
	return 1;
}

int upgrade_find(const struct kh_source_os *list, size_t n, long running,
		 struct kh_upgrade *out)
{
	struct kh_upgrade newest;

	memset(out, 0, sizeof(*out));
	if (running <= 0 || !best(list, n, running, out))
		return 0;
	best(list, n, 0, &newest);
	out->newest = newest.key == out->key;
	if (out->newest && out->last_write) {
		out->time = out->last_write;
		out->time_from = KH_TIME_LAST_WRITE;
	} else if (out->name_date) {
		out->time = out->name_date;
		out->time_from = KH_TIME_NAME;
	} else if (out->last_write) {
		out->time = out->last_write;
		out->time_from = KH_TIME_LAST_WRITE;
	}
	return 1;
}
