// Sign in and register (envoys register themselves with a mainland mobile number).
import { post, session } from '/lib/api.js';
import { t, errorText, hooks } from './ctx.js';
import { h, field } from './ui.js';

function form(view, mode) {
  const phone = h('input', { type: 'tel', name: 'phone', autocomplete: 'tel', inputmode: 'numeric', required: true, maxlength: '16' });
  const name = h('input', { type: 'text', name: 'name', autocomplete: 'name', required: true, maxlength: '40' });
  const password = h('input', {
    type: 'password', name: 'password', required: true, minlength: mode === 'register' ? '8' : null,
    autocomplete: mode === 'register' ? 'new-password' : 'current-password',
  });
  const error = h('p', { class: 'error-text', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'wide' }, t(mode === 'register' ? 'auth.register' : 'auth.login'));
  const pending = sessionStorage.getItem('pp.joinToken');

  const el = h('form', {
    class: 'card auth', novalidate: true,
    onsubmit: async (ev) => {
      ev.preventDefault();
      error.textContent = '';
      submit.disabled = true;
      try {
        if (mode === 'register') {
          await post('/auth/register', { phone: phone.value.trim(), name: name.value.trim(), password: password.value }, { auth: false });
        }
        const res = await post('/auth/login', { phone: phone.value.trim(), password: password.value }, { auth: false });
        session.set(res.token, res.user);
        await hooks.signedIn();
        location.hash = pending ? '#/join' : '#/tasks';
      } catch (e) {
        error.textContent = errorText(e);
        submit.disabled = false;
      }
    },
  },
  h('h2', {}, t(mode === 'register' ? 'auth.register' : 'auth.login')),
  pending ? h('p', { class: 'notice' }, t('auth.joinPending')) : null,
  ...field(t('auth.phone'), phone),
  mode === 'register' ? field(t('auth.name'), name) : [],
  ...field(t('auth.password'), password, mode === 'register' ? t('auth.password.hint') : null),
  error,
  submit,
  h('p', { class: 'switch' }, h('a', { href: mode === 'register' ? '#/login' : '#/register' },
    t(mode === 'register' ? 'auth.toLogin' : 'auth.toRegister'))));

  view.replaceChildren(
    h('section', { class: 'welcome' },
      h('img', { src: '/app/icons/icon.svg', alt: '', width: 56, height: 56 }),
      h('p', {}, t('auth.welcome'))),
    el,
  );
}

export function login(view) { form(view, 'login'); }
export function register(view) { form(view, 'register'); }
