/**
 * Safe element building: data goes into the page as text nodes and attribute values only, never
 * as markup (no innerHTML anywhere in web/). Rows and cells are updated in place, so a click, a
 * focused input or a half-typed text in them survives the refresh.
 */

/** The element with this id. */
export const $ = (id) => document.getElementById(id);

/** An element with attributes and children; strings become text nodes, never markup. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c !== null && c !== undefined && c !== false)
      el.append(typeof c === 'object' ? c : String(c));
  }
  return el;
}

/** Set an element's text only when it changed (a selection in it stays). */
export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

const shown = new WeakMap();
/** Rebuild an element's children only when what they show (its key) changed. */
export function fill(el, key, build) {
  if (shown.get(el) === key) return;
  shown.set(el, key);
  el.replaceChildren(
    ...[build()].flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false),
  );
}

/** Forget what fill() showed in an element, so the next fill() rebuilds it. */
export function forget(el) {
  shown.delete(el);
}

/**
 * Make tbody's rows those of items, in order, keyed: a row that stays is updated in place and
 * not moved, so a click or a half-typed input in it survives the refresh.
 */
export function syncRows(tbody, items, keyOf, create, update) {
  const wanted = new Set(items.map((i) => String(keyOf(i))));
  const rows = new Map();
  for (const tr of [...tbody.children]) {
    if (wanted.has(tr.dataset.key)) rows.set(tr.dataset.key, tr);
    else tr.remove();
  }
  items.forEach((item, i) => {
    const key = String(keyOf(item));
    let tr = rows.get(key);
    if (tr === undefined) {
      tr = create(item);
      tr.dataset.key = key;
    }
    update(tr, item);
    const here = tbody.children[i];
    if (here !== tr) tbody.insertBefore(tr, here ?? null);
  });
}
