/** The live view's style sheet (inlined into the page by ui.ts; no build step). */
export const UI_CSS = `  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d2330; }
  h1 { font-size: 1.3rem; margin: 0 0 .2rem; }
  h2 { font-size: 1.15rem; margin: 0; display: inline; }
  h3 { font-size: 1rem; margin: 1.2rem 0 .4rem; }
  h3 small, .note { color: #5b6475; font-weight: 400; }
  #meta { color: #5b6475; margin-bottom: 1rem; }
  table { border-collapse: collapse; min-width: 48rem; }
  th, td { text-align: left; vertical-align: top; padding: .35rem .7rem; border-bottom: 1px solid #e3e6ec; }
  th { font-weight: 600; background: #f5f6f8; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .state { display: inline-block; min-width: 6.5rem; padding: .1rem .5rem; border-radius: .3rem; color: #fff; font-weight: 600; }
  .running { background: #1f8a4c; } .idle { background: #8a8f99; } .down { background: #c62828; }
  .changeover { background: #b26a00; } .planned-stop { background: #5468c4; } .starved, .blocked { background: #8e44ad; }
  .unknown { background: #444; }
  .line td { background: #fafbfc; font-weight: 600; }
  .line small { color: #8a8f99; font-weight: 400; margin-left: .5rem; }
  tr[data-unit] { cursor: pointer; }
  tr[data-unit]:hover td, tr[data-unit]:focus td { background: #eef3fb; }
  tr.selected td { background: #e1ebfa; }
  #login { display: grid; gap: .5rem; max-width: 20rem; margin: 1rem 0; }
  input, button, select { font: inherit; padding: .35rem .5rem; }
  #error, .err { color: #c62828; white-space: pre-wrap; }
  #who button { margin-left: .5rem; }
  #panel { margin-top: 1.5rem; padding: 1rem; border: 1px solid #d5dae3; border-radius: .4rem; max-width: 80rem; }
  #panel header { display: flex; gap: .8rem; align-items: baseline; flex-wrap: wrap; }
  #panel header code { color: #5b6475; }
  #panel-close { margin-left: auto; }
  code, .mono { font-family: ui-monospace, monospace; font-size: .92em; }
  ul.inputs { list-style: none; margin: 0; padding: 0; }
  ul.inputs li + li { margin-top: .2rem; }
  .quality-bad, .quality-uncertain { color: #c62828; font-weight: 600; }
  td.refused { background: #fdecea; color: #b71c1c; font-weight: 600; }
  .unclassified { color: #b26a00; font-weight: 600; }
  .micro { display: inline-block; padding: 0 .4rem; border-radius: .3rem; background: #eef0f4; }
  form.classify { display: flex; flex-wrap: wrap; gap: .4rem; align-items: center; }
  form.classify input[name=reason] { width: 9rem; }
  form.classify input[name=comment] { width: 18rem; }
  form.classify .err { flex-basis: 100%; }
  #today { margin-top: 1.2rem; }
  #today h2 { font-size: 1.1rem; margin: 0 0 .4rem; }
  [hidden] { display: none !important; }
`;
