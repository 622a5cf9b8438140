/* upgrade.c - which upgrade the system came from, decided once for both
 * builds from the raw Source OS keys the bodies return.
 *
 * Names are parsed strictly: Setup writes "Source OS (Updated on M/D/YYYY
 * h:mm:ss)"; anything else (no time, an hour of 25, 2/30, text after the
 * ")") carries no date rather than a guessed one.  The order of upgrades
 * is one function, newer(): today the time (last-write, else the name),
 * ties broken so that the listing order never matters. */
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

/* The one order of upgrades: the later time; on a tie (a later upgrade
 * rewrites every Source OS key, so their last-write times are equal) the
 * later date in the name, then the higher build, then the larger key name. */
static int newer(const struct kh_upgrade *a, const struct kh_upgrade *b)
{
	int64_t na, nb;

	if (a->time != b->time)
		return a->time > b->time;
	na = upgrade_name_date(a->key);
	nb = upgrade_name_date(b->key);
	if (na != nb)
		return na > nb;
	if (a->build != b->build)
		return a->build > b->build;
	return strcmp(a->key, b->key) > 0;
}

static void interpret(const struct kh_source_os *s, struct kh_upgrade *u)
{
	u->key = s->key ? s->key : "";
	u->build = upgrade_build(s->build);
	u->product = s->product;
	u->time = s->written > 0 ? s->written : upgrade_name_date(s->key);
	u->time_from = s->written > 0 ? KH_TIME_LAST_WRITE
		     : u->time ? KH_TIME_NAME : KH_TIME_NONE;
}

int upgrade_find(const struct kh_source_os *list, size_t n, long running,
		 struct kh_upgrade *out)
{
	struct kh_upgrade u;
	int found = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; running > 0 && i < n; i++) {
		interpret(&list[i], &u);
		if (u.build <= 0 || u.build >= running)
			continue;
		if (!found || newer(&u, out))
			*out = u;
		found = 1;
	}
	return found;
}
