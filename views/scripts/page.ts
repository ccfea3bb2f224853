/**
 * Every IdP page's script (served as /static/page.js): shows times in the browser's own time zone
 * in the page's language (<time data-local>), and counts a throttle's wait down ("Wait N seconds",
 * its plural forms from the page, views/throttle.eta). The page reads right without it.
 */
const lang = document.documentElement.lang || 'en';

for (const el of Array.from(document.querySelectorAll<HTMLTimeElement>('time[data-local]'))) {
  const at = new Date(el.dateTime);
  if (Number.isNaN(at.getTime())) continue;
  const style: Intl.DateTimeFormatOptions = el.dataset.local === 'datetime' ? { dateStyle: 'medium', timeStyle: 'short' } : { hour: 'numeric', minute: '2-digit' };
  el.textContent = new Intl.DateTimeFormat(lang, style).format(at);
}

type Forms = Partial<Record<Intl.LDMLPluralRule, string>> & { other: string };
const plural = new Intl.PluralRules(lang);
const pick = (forms: Forms, n: number) => (forms[plural.select(n)] ?? forms.other).replace('{count}', String(n));
const parse = (json: string | undefined): Forms | null => {
  try {
    const v = JSON.parse(json ?? '') as unknown;
    return v && typeof v === 'object' && typeof (v as Forms).other === 'string' ? (v as Forms) : null;
  } catch {
    return null;
  }
};

const throttle = document.getElementById('throttle');
const seconds = Number(throttle?.dataset.seconds);
const secondsForms = parse(throttle?.dataset.formsSeconds);
const minutesForms = parse(throttle?.dataset.formsMinutes);
if (throttle && secondsForms && minutesForms && Number.isFinite(seconds) && seconds > 0) {
  const started = performance.now();
  const tick = () => {
    const left = Math.max(0, Math.ceil(seconds - (performance.now() - started) / 1000));
    throttle.textContent = (throttle.dataset.prefix ?? '') + (left > 60 ? pick(minutesForms, Math.ceil(left / 60)) : pick(secondsForms, left));
    if (left > 0) setTimeout(tick, 1000);
  };
  tick();
}
