// Joining a team: by the join link (/join?token=…, which the leader's QR code holds), by scanning
// the QR code with the camera, or by reading it from a photo.
import { post } from '/lib/api.js';
import { t, go, refreshMe, errorText } from './ctx.js';
import { h, field, filePicker, toast } from './ui.js';
import { decodeFile, scanCamera, tokenOf } from './qr.js';

export async function render(view) {
  const status = h('p', { role: 'status', class: 'join-status', id: 'join-status' });
  const error = h('p', { class: 'error-text', role: 'alert', id: 'join-error' });

  async function join(token) {
    error.textContent = '';
    status.textContent = t('join.joining');
    try {
      await post('/teams/join', { token });
      sessionStorage.removeItem('pp.joinToken');
      toast(t('join.done'));
      await refreshMe();
      go('#/team');
    } catch (e) {
      sessionStorage.removeItem('pp.joinToken');
      status.textContent = '';
      error.textContent = errorText(e);
    }
  }

  function joinText(text) {
    const token = tokenOf(text);
    if (!token) { error.textContent = text ? t('join.badCode') : t('join.noCode'); return; }
    join(token);
  }

  const pending = sessionStorage.getItem('pp.joinToken');

  // camera
  const video = h('video', { class: 'scanner', playsinline: true, muted: true, hidden: true, 'aria-label': t('join.camera') });
  let scan = null;
  const scanBtn = h('button', {
    type: 'button', class: 'wide', id: 'scan',
    onclick: async () => {
      if (scan) { scan.stop(); scan = null; video.hidden = true; scanBtn.textContent = t('join.scan'); return; }
      error.textContent = '';
      video.hidden = false;
      scanBtn.textContent = t('join.stop');
      scan = scanCamera(video);
      try {
        const text = await scan.result;
        if (text) joinText(text);
      } catch (e) {
        error.textContent = t('join.cameraFail', { message: e.message || e.name });
      } finally {
        scan = null;
        video.hidden = true;
        scanBtn.textContent = t('join.scan');
      }
    },
  }, t('join.scan'));

  // photo of the code
  const photo = h('input', { type: 'file', accept: 'image/*', id: 'qr-photo' });
  photo.addEventListener('change', async () => {
    const file = photo.files[0];
    if (!file) return;
    error.textContent = '';
    try {
      const text = await decodeFile(file);
      if (!text) error.textContent = t('join.noCode');
      else joinText(text);
    } catch (e) {
      error.textContent = errorText(e);
    }
    photo.value = '';
  });

  // pasted link
  const link = h('input', { type: 'url', id: 'join-url', autocomplete: 'off', inputmode: 'url' });
  const linkForm = h('form', {
    class: 'row', onsubmit: (ev) => { ev.preventDefault(); joinText(link.value); },
  }, h('div', { class: 'grow' }, ...field(t('join.link'), link)), h('button', { type: 'submit', class: 'secondary' }, t('join.go')));

  view.replaceChildren(
    h('h2', {}, t('join.title')),
    status, error,
    h('section', { class: 'card' }, h('p', { class: 'muted' }, t('join.hint')), video, scanBtn),
    h('section', { class: 'card' }, filePicker(t('join.photo'), photo)),
    h('section', { class: 'card' }, linkForm),
  );
  if (pending) join(pending);
  return () => { if (scan) scan.stop(); };
}
