// Me: wallet (points and welfare fund with their history), leaderboard, dispatch availability,
// sign out.
import { get, put, post, session } from '/lib/api.js';
import { i18n, t, showError } from './ctx.js';
import { h, toast } from './ui.js';

const AVAILABLE_KEY = 'pp.available';

export async function render(view) {
  const [wallet, board, fresh] = await Promise.all([
    get('/me/wallet', { limit: 50 }), get('/leaderboard', { limit: 20 }), get('/me').catch(() => null)]);
  const me = fresh || session.user;

  // The server keeps the choice (GET /me tells it); the last one known here stands in offline.
  const known = typeof fresh?.available === 'boolean' ? fresh.available
    : localStorage.getItem(`${AVAILABLE_KEY}.${me?.id}`) !== 'false';
  const available = h('input', { type: 'checkbox', role: 'switch', id: 'available', checked: known });
  available.addEventListener('change', async () => {
    const want = available.checked;
    available.disabled = true;
    try {
      const res = await put('/me/availability', { available: want });
      localStorage.setItem(`${AVAILABLE_KEY}.${me?.id}`, String(res.available));
      available.checked = res.available;
      toast(t('common.saved'));
    } catch (e) {
      available.checked = !want;
      showError(e);
    } finally {
      available.disabled = false;
    }
  });

  view.replaceChildren(
    h('h2', {}, t('wallet.title'), me ? h('span', { class: 'muted who' }, ` · ${me.name}`) : null),
    h('div', { class: 'stats', id: 'wallet' },
      h('div', { class: 'stat' }, h('span', {}, t('wallet.points')), h('strong', { id: 'points' }, i18n.number(wallet.points))),
      h('div', { class: 'stat' }, h('span', {}, t('wallet.fund')), h('strong', { id: 'fund' }, i18n.money(wallet.fund_cents)))),
    h('section', { class: 'card switch-row' },
      h('div', { class: 'row between' },
        h('label', { for: 'available', class: 'grow' }, t('wallet.available')),
        available),
      h('p', { class: 'muted small', id: 'available-hint' }, t('wallet.availableHint'))),
    h('h3', {}, t('wallet.history')),
    wallet.entries.length
      ? h('ul', { class: 'ledger plain' }, wallet.entries.map((e) => h('li', {},
        h('span', { class: 'grow' }, e.reason, h('br'), h('span', { class: 'muted small' }, i18n.dateTime(e.created_at))),
        h('strong', {}, e.kind === 'fund' ? i18n.money(e.amount) : `${e.amount > 0 ? '+' : ''}${i18n.number(e.amount)} ${t('wallet.kind.points')}`))))
      : h('p', { class: 'muted' }, t('wallet.none')),
    h('h3', {}, t('wallet.board')),
    board.rows.length
      ? h('ol', { class: 'board plain' }, board.rows.map((r) => h('li', { class: r.user_id === me?.id ? 'me' : '' },
        h('span', { class: 'rank' }, String(r.rank)),
        h('span', { class: 'grow' }, r.name),
        h('strong', {}, `${i18n.number(r.points)} ${t('wallet.kind.points')}`))))
      : h('p', { class: 'muted' }, t('wallet.boardNone')),
    h('p', {}, h('button', {
      type: 'button', class: 'secondary wide', id: 'logout',
      onclick: async () => {
        try { await post('/auth/logout', {}); } catch { /* signed out here anyway */ }
        session.clear();
        window.dispatchEvent(new Event('pp-signed-out'));
      },
    }, t('auth.logout'))),
  );
  available.setAttribute('aria-describedby', 'available-hint');
}
