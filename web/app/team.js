// My team: the lobby while forming (leader: QR code, join link, team photo and start; members:
// waiting), the patrol screen while active, the outcome once finished.
import { get, post, del, authedUrl, session } from '/lib/api.js';
import { i18n, t, state, tracker, go, on, emit, refreshMe, refreshTeam, showError, errorText } from './ctx.js';
import { h, field, filePicker, toast, insideArea, currentPosition, shrinkPhoto } from './ui.js';

/** Refresh the QR code well before its token's 15 minutes run out. */
const QR_REFRESH_MS = 10 * 60 * 1000;

/** Minutes as the server counts them (fractions), to one decimal. */
const mins = (n) => i18n.number(Math.floor(n * 10) / 10, { maximumFractionDigits: 1 }); // never rounds up to the goal
const minsLeft = (n) => i18n.number(Math.ceil(n * 10) / 10, { maximumFractionDigits: 1 });

export async function render(view) {
  await refreshMe();
  if (!state.team) {
    view.replaceChildren(
      h('h2', {}, t('nav.team')),
      h('p', {}, t('team.none')),
      h('p', { class: 'stack' },
        h('a', { class: 'button wide', href: '#/tasks' }, t('team.newTask')),
        h('a', { class: 'button secondary wide', href: '#/join' }, t('tasks.scan'))),
    );
    return null;
  }
  let shown = null; // {state, cleanup, update}
  const draw = () => {
    const team = state.team;
    if (!team) { go('#/team'); return; }
    if (shown && shown.state === team.state && shown.leader === team.leader_id && shown.update) { shown.update(team); return; }
    shown?.cleanup();
    const drawn = team.state === 'forming' ? lobby(view, team) : team.state === 'active' ? patrol(view, team) : outcome(view, team);
    shown = { state: team.state, leader: team.leader_id, ...drawn };
    i18n.apply(view);
  };
  draw();
  const off = on('team', () => draw());
  return () => { off(); shown?.cleanup(); };
}

function taskCard(task) {
  return h('section', { class: 'card task-brief' },
    h('h3', {}, task.title),
    h('p', { class: 'muted' }, task.place),
    h('p', {}, `${t('tasks.patrol', { n: task.patrol_minutes })} · ${t('tasks.window', { from: i18n.time(task.starts_at), to: i18n.time(task.ends_at) })}`));
}

function memberList(team) {
  const leader = team.leader_id === session.user?.id && team.state === 'forming';
  return h('ul', { class: 'members plain', id: 'members', 'aria-live': 'polite' },
    team.members.map((m) => h('li', { 'data-user': m.user_id },
      h('span', { class: 'avatar', 'aria-hidden': 'true' }, m.name.slice(0, 1)),
      h('span', { class: 'grow' }, m.name + (m.user_id === session.user?.id ? t('team.me') : '')),
      h('span', { class: 'tag' + (m.role === 'leader' ? ' leader' : '') }, t(m.role === 'leader' ? 'team.leader' : 'team.member')),
      leader && m.role !== 'leader' ? h('button', {
        type: 'button', class: 'quiet small', 'aria-label': t('team.removeLabel', { name: m.name }),
        onclick: async (ev) => {
          if (!confirm(t('team.removeConfirm', { name: m.name }))) return;
          ev.currentTarget.disabled = true;
          try {
            await del(`/teams/${team.id}/members/${m.user_id}`);
            await refreshTeam(team.id);
            emit('team', { team_id: team.id, change: 'removed' });
          } catch (e) { showError(e); }
        },
      }, '✕') : null)));
}

function lobby(view, team) {
  const task = state.task;
  const leader = team.leader_id === session.user?.id;
  const need = Math.max(0, team.team_min - team.members.length);
  const parts = [
    h('h2', {}, t('team.lobby')),
    taskCard(task),
    h('h3', { id: 'members-title' }, t('team.members', { n: team.members.length, max: team.team_max })),
    memberList(team),
    h('p', { class: need ? 'muted' : 'ok-text', id: 'need' }, need ? t('team.need', { n: need }) : t('team.ready')),
  ];
  const update = (fresh) => {
    const missing = Math.max(0, fresh.team_min - fresh.members.length);
    view.querySelector('#members-title').textContent = t('team.members', { n: fresh.members.length, max: fresh.team_max });
    view.querySelector('#members').replaceWith(memberList(fresh));
    const needEl = view.querySelector('#need');
    needEl.className = missing ? 'muted' : 'ok-text';
    needEl.textContent = missing ? t('team.need', { n: missing }) : t('team.ready');
    const start = view.querySelector('#start');
    if (start && start.textContent === t('team.start')) start.disabled = missing > 0;
  };
  let timer = null;
  if (leader) {
    const img = h('img', { class: 'qr', id: 'qr', alt: t('team.qrAlt'), width: 260, height: 260 });
    const until = h('p', { class: 'muted small' });
    const link = h('input', { type: 'text', readonly: true, class: 'link', id: 'join-link' });
    const loadQr = async () => {
      img.src = authedUrl(`/teams/${team.id}/qr.svg`) + `&t=${Date.now()}`;
      try {
        const fresh = await get(`/teams/${team.id}`);
        if (fresh.join_url) link.value = fresh.join_url;
        if (fresh.join_expires_at) until.textContent = t('team.qrRefresh', { time: i18n.time(fresh.join_expires_at) });
      } catch { /* the image still shows */ }
    };
    link.value = team.join_url || '';
    loadQr();
    timer = setInterval(loadQr, QR_REFRESH_MS);
    const share = h('button', {
      type: 'button', class: 'secondary',
      onclick: async () => {
        try {
          if (navigator.share) await navigator.share({ title: t('app.title'), url: link.value });
          else { await navigator.clipboard.writeText(link.value); toast(t('team.copied')); }
        } catch { link.select(); }
      },
    }, t('team.share'));
    parts.splice(2, 0, h('section', { class: 'card qr-box' },
      h('p', {}, t('team.qr')), h('div', { class: 'qr-frame' }, img), until,
      ...field(t('team.link'), link), h('p', {}, share)));
    parts.push(startForm(team, need));
  } else {
    parts.push(h('p', { class: 'card notice' }, t('team.waitLeader')));
  }
  parts.push(h('p', {}, h('button', {
    type: 'button', class: 'quiet',
    onclick: async () => {
      if (!confirm(t('team.leaveConfirm'))) return;
      try {
        await post(`/teams/${team.id}/leave`, {});
        toast(t('team.left'));
        await refreshMe({ forget: team.id });
        go('#/tasks');
      } catch (e) { showError(e); }
    },
  }, t('team.leave'))));
  view.replaceChildren(...parts);
  return { cleanup: () => clearInterval(timer), update };
}

function startForm(team, need) {
  const photo = h('input', { type: 'file', accept: 'image/*', capture: 'environment', name: 'photo', id: 'start-photo' });
  const preview = h('img', { class: 'preview', alt: t('team.photoPreview'), hidden: true });
  const error = h('p', { class: 'error-text', role: 'alert' });
  const button = h('button', { type: 'submit', class: 'wide', id: 'start', disabled: need > 0 }, t('team.start'));
  photo.addEventListener('change', () => {
    const f = photo.files[0];
    if (preview.src) URL.revokeObjectURL(preview.src);
    if (f) { preview.src = URL.createObjectURL(f); preview.hidden = false; } else preview.hidden = true;
  });
  return h('form', {
    class: 'card start',
    onsubmit: async (ev) => {
      ev.preventDefault();
      error.textContent = '';
      const file = photo.files[0];
      if (!file) { error.textContent = t('err.photo_required'); photo.focus(); return; }
      button.disabled = true;
      button.textContent = t('team.starting');
      try {
        const pos = await currentPosition({ maximumAge: 0 });
        const form = new FormData();
        form.append('photo', await shrinkPhoto(file), file.name || 'photo.jpg');
        form.append('lat', String(pos.coords.latitude));
        form.append('lng', String(pos.coords.longitude));
        const { api } = await import('/lib/api.js');
        await api('POST', `/teams/${team.id}/start`, { form });
        await refreshTeam(team.id);
        go('#/team');
      } catch (e) {
        error.textContent = errorText(e);
        button.disabled = false;
        button.textContent = t('team.start');
      }
    },
  }, h('h3', {}, t('team.start')), filePicker(t('team.photo'), photo), preview, error, button);
}

function patrol(view, team) {
  const task = state.task;
  const me = session.user?.id;
  const leader = team.leader_id === me;
  const where = h('p', { class: 'where', id: 'where', role: 'status' }, t('patrol.unknown'));
  const minutes = h('strong', { id: 'minutes' }, '–');
  const left = h('strong', { id: 'left' }, '–');
  const sent = h('p', { class: 'muted small', id: 'sent' });
  const teamList = h('ul', { class: 'members plain progress' });

  const showTracker = (s) => {
    // a live region: only a change is written (and read out)
    const say = (cls, text) => {
      if (where.textContent !== text) where.textContent = text;
      where.className = 'where ' + cls;
    };
    if (s.fix) {
      const inside = insideArea(task.area, s.fix.lat, s.fix.lng);
      say(inside ? 'inside' : 'outside', `${inside ? t('patrol.inside') : t('patrol.outside')} (${t('patrol.accuracy', { n: Math.round(s.fix.accuracy) })})`);
    } else if (s.error) {
      say('outside', t('patrol.geoFail', { message: s.error }));
    }
    sent.textContent = [t('patrol.sent', { n: s.sent }), s.queued ? t('status.queued', { n: s.queued }) : '',
      s.lastSent ? t('patrol.lastSent', { time: i18n.time(s.lastSent.toISOString()) }) : ''].filter(Boolean).join(' · ');
  };
  let lastSeenSent = null;
  const offTracker = tracker.onChange((s) => { showTracker(s); if (s.lastSent && s.lastSent !== lastSeenSent) { lastSeenSent = s.lastSent; loadProgress(); } });

  async function loadProgress() {
    try {
      const p = await get(`/teams/${team.id}/progress`);
      const mine = p.members.find((m) => m.user_id === me);
      if (mine) {
        minutes.textContent = t('patrol.min', { n: mins(mine.minutes_inside) });
        left.textContent = mine.qualified ? t('patrol.done') : t('patrol.min', { n: minsLeft(mine.remaining_minutes) });
      }
      teamList.replaceChildren(...p.members.map((m) => h('li', {},
        h('span', { class: 'avatar', 'aria-hidden': 'true' }, m.name.slice(0, 1)),
        h('span', { class: 'grow' }, m.name),
        h('span', { class: 'tag' + (m.qualified ? ' ok' : '') },
          m.qualified ? t('patrol.done') : t('patrol.min', { n: mins(m.minutes_inside) })))));
    } catch { /* offline: keep what is shown */ }
  }

  const finish = leader ? h('button', {
    type: 'button', class: 'wide', id: 'finish',
    onclick: async (ev) => {
      if (!confirm(t('patrol.finishConfirm'))) return;
      ev.currentTarget.disabled = true;
      try {
        await tracker.sample();
        await tracker.flush();
        await post(`/teams/${team.id}/finish`, {});
        await refreshTeam(team.id);
        go('#/team');
      } catch (e) { showError(e); ev.target.disabled = false; }
    },
  }, t('patrol.finish')) : null;

  // the map of the area and me, loaded only when opened (Leaflet is not in the first load)
  let map = null;
  const mapEl = h('div', { class: 'map small-map', role: 'region', 'aria-label': t('tasks.map') });
  const details = h('details', { class: 'map-box' }, h('summary', {}, t('patrol.map')), mapEl);
  details.addEventListener('toggle', async () => {
    if (!details.open || map) return;
    const fix = tracker.status.fix;
    const { showMap } = await import('./tasks.js');
    map = await showMap(mapEl, [task], fix ? { lat: fix.lat, lng: fix.lng } : null);
  });

  view.replaceChildren(
    h('h2', {}, t('patrol.title')),
    taskCard(task),
    where,
    details,
    h('div', { class: 'stats' },
      h('div', { class: 'stat' }, h('span', {}, t('patrol.minutes')), minutes),
      h('div', { class: 'stat' }, h('span', {}, t('patrol.left')), left)),
    sent,
    h('h3', {}, t('patrol.team')),
    teamList,
    h('p', { class: 'stack' }, finish, h('a', { class: 'button secondary wide', href: '#/report' }, t('patrol.report'))),
  );
  showTracker(tracker.status);
  loadProgress();
  const timer = setInterval(loadProgress, 30000);
  return { cleanup: () => { offTracker(); clearInterval(timer); map?.remove(); }, update: () => loadProgress() };
}

function outcome(view, team) {
  const task = state.task;
  const parts = [h('h2', {}, t('team.finished')), taskCard(task)];
  view.replaceChildren(...parts, h('p', { class: 'muted' }, t('common.loading')));
  get(`/teams/${team.id}/progress`).then((p) => {
    const mine = p.members.find((m) => m.user_id === session.user?.id);
    const result = mine ? h('section', { class: 'card result' + (mine.qualified ? ' ok' : '') },
      h('p', {}, t('team.result', { n: mins(mine.minutes_inside) })),
      h('p', { class: 'big' }, mine.qualified
        ? t('team.qualified', { points: task.reward_points, fund: i18n.money(task.reward_fund_cents) })
        : t('team.notQualified', { n: p.patrol_minutes }))) : null;
    view.replaceChildren(...parts, ...(result ? [result] : []),
      h('p', { class: 'stack' }, h('a', { class: 'button wide', href: '#/wallet' }, t('nav.wallet')),
        h('a', { class: 'button secondary wide', href: '#/tasks' }, t('team.newTask'))));
  }).catch((e) => {
    view.replaceChildren(...parts, h('p', { class: 'muted' }, errorText(e)),
      h('p', {}, h('a', { class: 'button secondary wide', href: '#/tasks' }, t('team.newTask'))));
  });
  return { cleanup: () => {} };
}
