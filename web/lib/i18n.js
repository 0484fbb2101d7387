// Chinese (default) and English for both web apps. Each app passes its own dictionary
// {zh: {key: text}, en: {key: text}}; texts may hold {name} placeholders.
// In HTML: data-i18n="key" sets the text, data-i18n-attr="aria-label:key,placeholder:key2"
// sets attributes. The choice is kept in localStorage and shared by both apps.

const LANG_KEY = 'pp.lang';
export const LANGS = ['zh', 'en'];
const HTML_LANG = { zh: 'zh-CN', en: 'en' };

export function createI18n(dict) {
  let lang = LANGS.includes(localStorage.getItem(LANG_KEY)) ? localStorage.getItem(LANG_KEY) : 'zh';
  const listeners = new Set();

  /** The text of `key` in the current language (falls back to Chinese, then the key). */
  function t(key, vars) {
    let text = dict[lang]?.[key] ?? dict.zh?.[key] ?? key;
    if (vars) text = text.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
    return text;
  }

  /** Translates the marked elements below `root`. */
  function apply(root = document) {
    document.documentElement.lang = HTML_LANG[lang];
    for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
    for (const el of root.querySelectorAll('[data-i18n-attr]')) {
      for (const pair of el.dataset.i18nAttr.split(',')) {
        const [attr, key] = pair.split(':').map((s) => s.trim());
        if (attr && key) el.setAttribute(attr, t(key));
      }
    }
  }

  function setLang(next) {
    if (!LANGS.includes(next) || next === lang) return;
    lang = next;
    localStorage.setItem(LANG_KEY, lang);
    apply();
    for (const fn of listeners) fn(lang);
  }

  /** Numbers, distances, times in the current language. */
  const locale = () => HTML_LANG[lang];
  const number = (n, opts) => new Intl.NumberFormat(locale(), opts).format(n);
  function distance(m) {
    return m < 1000 ? t('unit.m', { n: Math.round(m) }) : t('unit.km', { n: number(m / 1000, { maximumFractionDigits: 1 }) });
  }
  const dateTime = (iso) => new Date(iso).toLocaleString(locale(), { dateStyle: 'short', timeStyle: 'short' });
  const time = (iso) => new Date(iso).toLocaleTimeString(locale(), { timeStyle: 'short' });
  const money = (cents) => number(cents / 100, { style: 'currency', currency: 'CNY' });

  return {
    t, apply, setLang, number, distance, dateTime, time, money,
    get lang() { return lang; },
    onChange(fn) { listeners.add(fn); },
  };
}

/** Texts both apps use. */
export const COMMON = {
  zh: {
    'unit.m': '{n} 米',
    'unit.km': '{n} 公里',
    'lang.switch': 'English',
    'lang.label': '切换到英文',
    'error.network': '网络不通，稍后再试',
    'error.generic': '出错了：{message}',
  },
  en: {
    'unit.m': '{n} m',
    'unit.km': '{n} km',
    'lang.switch': '中文',
    'lang.label': 'Switch to Chinese',
    'error.network': 'No connection; try again later',
    'error.generic': 'Something went wrong: {message}',
  },
};

/** Merges dictionaries: `merge(COMMON, APP)`. */
export function merge(...dicts) {
  const out = {};
  for (const lang of LANGS) out[lang] = Object.assign({}, ...dicts.map((d) => d[lang] || {}));
  return out;
}
