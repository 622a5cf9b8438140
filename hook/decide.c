/* decide.c - the verdict and plan of SPEC section 3: a pure function of the
 * facts observed, so every row of the SPEC tables is a unit test case. */
#include <stddef.h>

#include "khreset.h"

#include "observe.h"

static const char *const vnames[] = { "healthy", "repair", "activate", "blocked" };
static const char *const snames[KH_ST_COUNT] = {
	"backup", "stage", "restart-clipsvc", "verify", "registry", "trigger", "wait"
};

const char *verdict_name(enum kh_verdict v)
{
	return (unsigned)v < 4 ? vnames[v] : "unknown";
}

const char *step_name(unsigned step)
{
	for (int i = 0; i < KH_ST_COUNT; i++)
		if (step == 1u << i)
			return snames[i];
	return "unknown";
}

void facts_from(const struct kh_obs *o, const struct kh_config *c, int force,
		struct kh_facts *f)
{
	*f = (struct kh_facts){ 0 };
	f->offline = o->offline;
	f->lic = o->lic;
	f->upgraded = o->upgraded_from != NULL;
	f->windows_old = o->windows_old;
	f->require_upgrade = c->require_upgrade;
	f->force = force;
	f->repaired = rrec_matches(&o->repair, o->upgraded_from);
	for (size_t i = 0; i < o->n_archive; i++) {
		switch (o->archive[i].cls) {
		case KH_CL_CURRENT:
		case KH_CL_POST:
			break;
		default:
			f->stale = 1;
		}
	}
	if (!o->bundle)
		return;
	f->all_current = 1;
	for (size_t b = 0; b < o->bundle->n; b++) {
		int found = 0, cur = 0;
		for (size_t i = 0; i < o->n_archive; i++) {
			if (kh_strcasecmp(o->archive[i].name, o->bundle->files[b].name))
				continue;
			found = 1;
			cur = o->archive[i].cls == KH_CL_CURRENT;
		}
		f->missing |= !found;
		f->all_current &= cur;
	}
}

/* The repair is done once per upgrade: with its record (never looping),
 * a stale archive is what ClipSVC and activation wrote since, and the run
 * only stages, triggers and waits; --force repairs all the same. */
void decide(const struct kh_facts *f, struct kh_decision *d)
{
	int gate = f->upgraded || f->windows_old || !f->require_upgrade || f->force;
	int done = f->repaired && !f->force;
	int healthy = f->offline ? !f->stale && f->all_current
				 : f->lic == KH_LIC_LICENSED;

	d->plan = 0;
	if (healthy) {
		d->verdict = KH_V_HEALTHY;
		d->why = f->offline ? "archive holds the official keyholders and nothing stale"
				    : "Windows is licensed";
	} else if (f->stale && gate && !done) {
		d->verdict = KH_V_REPAIR;
		d->why = f->repaired ? "stale keyholders in the archive; repair forced, though it "
				       "was done for this upgrade already"
		       : f->upgraded ? "stale keyholders in the archive after an in-place upgrade"
		       : f->windows_old ? "stale keyholders in the archive; Windows.old shows an upgrade"
		       : f->force ? "stale keyholders in the archive; repair forced"
				  : "stale keyholders in the archive; policy does not require an upgrade";
		d->plan = f->offline ? KH_ST_BACKUP | KH_ST_STAGE | KH_ST_REGISTRY
				     : KH_ST_BACKUP | KH_ST_STAGE | KH_ST_RESTART |
				       KH_ST_VERIFY | KH_ST_REGISTRY | KH_ST_TRIGGER | KH_ST_WAIT;
	} else if (f->stale && !done) {
		d->verdict = KH_V_BLOCKED;
		d->why = "stale keyholders in the archive, but no upgrade was detected "
			 "(policy.require_upgrade = true; use --force to repair anyway)";
	} else {
		d->verdict = KH_V_ACTIVATE;
		d->why = f->stale ? "the archive was repaired for this upgrade already: what was "
				    "written into it since is left alone (--force repairs again)"
		       : f->offline ? "official keyholders not all in the archive yet"
				    : "archive is clean but Windows is not licensed";
		d->plan = f->offline ? KH_ST_STAGE | KH_ST_REGISTRY
				     : KH_ST_STAGE | (f->missing ? KH_ST_RESTART | KH_ST_VERIFY : 0) |
				       KH_ST_REGISTRY | KH_ST_TRIGGER | KH_ST_WAIT;
	}
}
