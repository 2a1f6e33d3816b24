/**
 * The inspections of the lot shown on the Lots page (issue #12, docs/quality.md; used by
 * lot-page.js): GET /api/v1/lots/{id}/inspections, oldest first, each with its plan, its
 * disposition and every result beside its limits, a failed one marked. Recording results is
 * the API's, a LIMS file's or a line tag's (docs/quality.md); this part only shows them.
 */
import { h, setText, syncRows } from '../lib/dom.js';
import { minute, plural } from './lot-parts.js';

/** A result as people read it: `moisture 43 P1 (38 … 42) fail`. */
function resultText(r) {
  const unit = r.uom ? ` ${r.uom}` : '';
  const limits = r.kind === 'numeric' ? ` (${r.lsl ?? '−∞'} … ${r.usl ?? '+∞'}${unit})` : '';
  return `${r.characteristic} ${r.value}${r.kind === 'numeric' ? unit : ''}${limits}`;
}

/**
 * The inspections part of a lot's page: `parts` are its elements, in order; `render(list)`
 * shows the inspections read, `clear()` forgets them.
 */
export function lotInspections() {
  const note = h('p', { id: 'inspections-note', class: 'note' });
  const rows = h('tbody', { id: 'inspection-rows' });
  const table = h(
    'table',
    { id: 'inspections', hidden: true },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['When', 'Plan', 'Disposition', 'Results', 'By'].map((t) => h('th', {}, t)),
      ),
    ),
    rows,
  );

  function cells(i) {
    return [
      minute(i.at),
      i.operation ? `${i.plan} (operation ${i.operation})` : i.plan,
      h('span', { class: `status status-inspection-${i.disposition}` }, i.disposition),
      h(
        'ul',
        { class: 'results' },
        i.results.map((r) =>
          h(
            'li',
            { class: r.pass ? 'pass' : 'fail', 'data-pass': String(r.pass) },
            resultText(r),
            r.pass ? '' : ' — fail',
          ),
        ),
      ),
      i.by,
    ];
  }

  return {
    parts: [note, table],
    render(list) {
      setText(
        note,
        list.length === 0
          ? 'no inspection recorded'
          : `${plural(list.length, 'inspection')}, ${plural(
              list.filter((i) => i.disposition === 'rejected').length,
              'rejected',
              'rejected',
            )}`,
      );
      table.hidden = list.length === 0;
      syncRows(
        rows,
        list,
        (i) => i.id,
        (i) => h('tr', { 'data-inspection': i.id }),
        (tr, i) => tr.replaceChildren(...cells(i).map((c) => h('td', {}, c))),
      );
    },
    clear() {
      rows.replaceChildren();
      table.hidden = true;
      setText(note, '');
    },
  };
}
