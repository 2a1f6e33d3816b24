/**
 * The quality holds of the lot shown on the Lots page (issue #12, docs/quality.md; used by
 * lot-page.js): its active and released holds (from GET /api/v1/lots/{id}), active first. With
 * quality.inspect a hold is placed here (POST …/holds, optionally on everything made from the
 * lot); with quality.release an active hold is released with a reason and the user's password
 * (POST …/holds/{hold}/release), which signs it electronically (21 CFR 11.50, 11.200(a)).
 * Without the permission, the form is not shown and a line says which permission it needs.
 *
 * The forms are built once (a release form once per hold and state) and rows updated in place,
 * so a half-typed reason or password survives the refresh.
 */
import { lotPath, post, refusal, session } from '../lib/api.js';
import { fill, h, setText, syncRows } from '../lib/dom.js';
import { lotLink, minute, plural } from './lot-parts.js';

/** The code of a wrong password on a signature (src/errors.ts): a refusal, not a lost session. */
const WRONG_PASSWORD = 'MW_ERR_AUTH_FAILED';

const holdBadge = (status) => h('span', { class: `status status-hold-${status}` }, status);

/**
 * The holds part of a lot's page: `parts` are its elements, in order; `render(lot)` shows the
 * holds of a lot read, `clear()` forgets them. `shownLot()` is the lot the page shows (null:
 * none), the one a hold is placed on.
 */
export function lotHolds(app, shownLot) {
  const holdsNote = h('p', { id: 'holds-note', class: 'note' });
  const holdRows = h('tbody', { id: 'hold-rows' });
  const holdsTable = h(
    'table',
    { id: 'holds' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Hold', 'Status', 'Origin', 'Reason', 'Placed', 'Released', ''].map((t) => h('th', {}, t)),
      ),
    ),
    holdRows,
  );
  const holdNote = h('span', { class: 'note' });
  const holdError = h('span', { class: 'err', role: 'alert' });
  const holdForm = h(
    'form',
    { id: 'hold-form', class: 'hold-form' },
    h('input', {
      name: 'reason',
      placeholder: 'why hold it? (kept in the audit trail)',
      'aria-label': 'reason for the hold',
      autocomplete: 'off',
      maxlength: 2000,
      required: true,
    }),
    h(
      'label',
      {},
      h('input', { type: 'checkbox', name: 'propagate' }),
      ' also hold everything made from it',
    ),
    h('button', { type: 'submit' }, 'Place hold'),
    holdNote,
    holdError,
  );
  const holdPermission = h('p', { id: 'hold-permission', class: 'note' });

  holdForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const lotId = shownLot();
    if (lotId === null) return;
    const button = holdForm.querySelector('button[type=submit]');
    button.disabled = true;
    setText(holdError, '');
    setText(holdNote, '');
    try {
      const res = await post(`${lotPath(lotId)}/holds`, {
        reason: holdForm.elements.reason.value.trim(),
        propagate: holdForm.elements.propagate.checked,
      });
      if (res.status === 401) return app.loggedOut('');
      if (!res.ok) {
        setText(holdError, (await refusal(res)).message);
        return;
      }
      const placed = await res.json();
      holdForm.reset();
      if (lotId === shownLot()) setText(holdNote, `placed ${plural(placed.holds.length, 'hold')}`);
      app.refresh();
    } catch (e) {
      setText(holdError, `cannot reach the hub: ${e}`);
    } finally {
      button.disabled = false;
    }
  });

  /** The holds, active first; a Release form on each active one for quality.release. */
  function renderHolds(lot) {
    const holds = [...(lot.holds ?? [])].sort(
      (a, b) => Number(b.status === 'active') - Number(a.status === 'active'),
    );
    holdsTable.hidden = holds.length === 0;
    setText(holdsNote, holds.length === 0 ? 'no holds' : '');
    const mayRelease = session.permissions.has('quality.release');
    syncRows(
      holdRows,
      holds,
      (hold) => hold.id,
      (hold) =>
        h(
          'tr',
          { 'data-hold': hold.id },
          h('td', {}, h('code')),
          h('td'),
          h('td'),
          h('td', { class: 'reason' }),
          h('td'),
          h('td'),
          h('td', { class: 'hold-actions' }),
        ),
      (tr, hold) => {
        const td = tr.children;
        setText(td[0].firstChild, hold.id);
        fill(td[1], hold.status, () => holdBadge(hold.status));
        fill(td[2], JSON.stringify([hold.origin, hold.rootLot]), () =>
          hold.origin === 'propagated' && hold.rootLot
            ? ['propagated from ', lotLink(hold.rootLot)]
            : hold.origin,
        );
        setText(td[3], hold.reason ?? '');
        setText(td[4], `${hold.placedBy ?? ''} · ${minute(hold.placedAt)}`);
        const signature =
          typeof hold.signature === 'string' ? hold.signature : (hold.signature?.id ?? null);
        setText(
          td[5],
          hold.status === 'released'
            ? `${hold.releasedBy ?? ''} · ${minute(hold.releasedAt)}` +
                (hold.releaseReason ? ` · ${hold.releaseReason}` : '') +
                (signature === null ? '' : ` · signature ${signature}`)
            : '',
        );
        // Built once per state: a half-typed reason or password survives the refresh.
        fill(td[6], JSON.stringify([hold.status, mayRelease]), () =>
          hold.status !== 'active'
            ? null
            : mayRelease
              ? releaseForm(lot.id, hold.id)
              : h('span', { class: 'note' }, 'releasing needs the permission quality.release'),
        );
      },
    );
  }

  /** The release of one hold: a reason and the password, signed as the logged-in user. */
  function releaseForm(lotId, holdId) {
    const err = h('span', { class: 'err', role: 'alert' });
    const form = h(
      'form',
      { class: 'release-form', 'data-hold': holdId },
      h('input', {
        name: 'reason',
        placeholder: 'why release it?',
        'aria-label': 'reason for the release',
        autocomplete: 'off',
        maxlength: 2000,
        required: true,
      }),
      h('input', {
        name: 'password',
        type: 'password',
        placeholder: `password of ${session.username}`,
        'aria-label': `password of ${session.username} (signs the release)`,
        autocomplete: 'current-password',
        required: true,
      }),
      h('button', { type: 'submit' }, 'Release'),
      h('span', { class: 'note' }, `signed by ${session.username}`),
      err,
    );
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const button = form.querySelector('button[type=submit]');
      button.disabled = true;
      setText(err, '');
      try {
        const res = await post(`${lotPath(lotId)}/holds/${encodeURIComponent(holdId)}/release`, {
          reason: form.elements.reason.value.trim(),
          username: session.username,
          password: form.elements.password.value,
        });
        if (!res.ok) {
          const refused = await refusal(res);
          // 401 is also the answer to a wrong password: only without that code is the session gone.
          if (res.status === 401 && refused.code !== WRONG_PASSWORD) return app.loggedOut('');
          form.elements.password.value = '';
          setText(err, refused.message);
          return;
        }
        form.reset();
        app.refresh();
      } catch (e) {
        setText(err, `cannot reach the hub: ${e}`);
      } finally {
        button.disabled = false;
      }
    });
    return form;
  }

  return {
    parts: [holdsNote, holdsTable, holdForm, holdPermission],
    render(lot) {
      renderHolds(lot);
      const mayHold = session.permissions.has('quality.inspect');
      holdForm.hidden = !mayHold;
      setText(holdPermission, mayHold ? '' : 'placing a hold needs the permission quality.inspect');
    },
    clear() {
      holdRows.replaceChildren();
      holdForm.reset();
      setText(holdError, '');
      setText(holdNote, '');
    },
  };
}
