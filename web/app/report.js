// Report an incident (category, description, photos, the current position) and follow my reports.
import { api, get } from '/lib/api.js';
import { i18n, t, state, on, errorText } from './ctx.js';
import { h, field, filePicker, toast, currentPosition, shrinkPhoto } from './ui.js';

const CATEGORIES = ['suspicious_person', 'public_security', 'lost_child', 'elderly_assist', 'sanitation',
  'bike_parking', 'traffic_civility', 'other'];

export async function render(view) {
  const category = h('select', { name: 'category', id: 'category' },
    CATEGORIES.map((c) => h('option', { value: c }, t('cat.' + c))));
  const description = h('textarea', { name: 'description', id: 'description', maxlength: '2000', required: true, placeholder: t('report.descriptionHint') });
  const photos = h('input', { type: 'file', accept: 'image/*', capture: 'environment', multiple: true, id: 'report-photo' });
  const error = h('p', { class: 'error-text', role: 'alert' });
  const button = h('button', { type: 'submit', class: 'wide', id: 'send-report' }, t('report.send'));
  const mine = h('ul', { class: 'reports plain', id: 'my-reports' });

  const form = h('form', {
    class: 'card',
    onsubmit: async (ev) => {
      ev.preventDefault();
      error.textContent = '';
      if (!description.value.trim()) { error.textContent = t('err.invalid_description'); description.focus(); return; }
      button.disabled = true;
      button.textContent = t('report.sending');
      try {
        let pos;
        try { pos = await currentPosition({ maximumAge: 60000 }); } catch { throw new Error(t('report.noPosition')); }
        const body = new FormData();
        body.append('category', category.value);
        body.append('description', description.value.trim());
        body.append('lat', String(pos.coords.latitude));
        body.append('lng', String(pos.coords.longitude));
        if (state.team?.state === 'active') body.append('team_id', state.team.id);
        for (const f of [...photos.files].slice(0, 3)) body.append('photo', await shrinkPhoto(f), f.name || 'photo.jpg');
        const report = await api('POST', '/incidents', { form: body });
        toast(t('report.sent', { dept: await departmentName(report.department) }));
        form.reset();
        photos.dispatchEvent(new Event('change'));
        await loadMine();
      } catch (e) {
        error.textContent = errorText(e);
      } finally {
        button.disabled = false;
        button.textContent = t('report.send');
      }
    },
  },
  ...field(t('report.category'), category),
  ...field(t('report.description'), description),
  filePicker(t('report.photo'), photos),
  error, button);

  async function loadMine() {
    try {
      const { incidents } = await get('/incidents', { limit: 20 });
      if (!incidents.length) { mine.replaceChildren(h('li', { class: 'muted' }, t('report.none'))); return; }
      mine.replaceChildren(...incidents.map((r) => h('li', { class: 'card report', 'data-incident': r.id },
        h('div', { class: 'row between' },
          h('strong', {}, i18n.lang === 'zh' ? r.category_name_zh : r.category_name_en),
          h('span', { class: `tag status-${r.status}` }, t('inc.' + r.status))),
        h('p', {}, r.description),
        h('p', { class: 'muted small' }, i18n.dateTime(r.created_at)),
        timeline(r.id))));
    } catch (e) {
      mine.replaceChildren(h('li', { class: 'error-text' }, errorText(e)));
    }
  }

  view.replaceChildren(h('h2', {}, t('report.title')), form, h('h3', {}, t('report.mine')), mine);
  await loadMine();
  return on('incident', () => loadMine());
}

let departments;
async function departmentName(code) {
  try {
    departments ??= (await get('/departments')).departments;
    const d = departments.find((x) => x.code === code || x.id === code);
    if (d) return i18n.lang === 'zh' ? d.name_zh : d.name_en;
  } catch { /* the code will do */ }
  return code || '';
}

/** Each step of a report (who did what, with their note), loaded when opened. */
function timeline(id) {
  const list = h('ol', { class: 'timeline plain' });
  const box = h('details', { class: 'steps' }, h('summary', {}, t('report.steps')), list);
  box.addEventListener('toggle', async () => {
    if (!box.open) return;
    try {
      const r = await get(`/incidents/${id}`);
      list.replaceChildren(...(r.timeline || []).map((step) => h('li', {},
        h('span', { class: 'muted small' }, i18n.dateTime(step.at)), ' ',
        h('strong', {}, step.kind === 'rerouted' ? t('report.rerouted') : t('inc.' + (step.status || 'open'))),
        step.actor_name ? ` · ${step.actor_name}` : '',
        step.note ? h('p', { class: 'note' }, step.note) : null)));
    } catch (e) {
      list.replaceChildren(h('li', { class: 'error-text' }, errorText(e)));
    }
  });
  return box;
}
